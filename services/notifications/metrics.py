"""Prometheus metrics of notifications, beside the runtime's."""

from prometheus_client import Counter, Gauge

MAILS_QUEUED = Counter("portal_mails_queued_total", "Mails put in the queue", ["kind"])
MAILS_SENT = Counter("portal_mails_sent_total", "Mails the SMTP server accepted", ["kind"])
MAILS_FAILED = Counter("portal_mails_failed_total", "Tries to send a mail that failed", ["kind"])
MAILS_ABANDONED = Counter(
    "portal_mails_abandoned_total", "Mails given up on: refused for good, or expired with their purpose", ["kind"]
)
MAILS_EXPIRED = Counter("portal_mails_expired_total", "Mails whose purpose ended before they could be sent", ["kind"])
# Read from the table by every replica alike (take the max, not the sum, across replicas).
# `failed` and `expired` only grow: an alert watches their increase, and `queued` its size.
MAIL_QUEUE_DEPTH = Gauge(
    "portal_mail_queue_depth",
    "Mails not sent, by state (queued, processing, failed, expired) and kind",
    ["state", "kind"],
)
MAILS_SKIPPED = Counter(
    "portal_mails_skipped_total",
    "Mails an event asked for that could not be made",
    ["subject", "reason"],
)
# The cap for everyone turning people away means a flood of the form, or a cap set too low.
CONTACT_REFUSED = Counter(
    "portal_contact_refused_total",
    "Contact requests refused over a limit",
    ["limit"],
)
