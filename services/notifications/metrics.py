"""Prometheus metrics of notifications, beside the runtime's."""

from prometheus_client import Counter

MAILS_QUEUED = Counter("portal_mails_queued_total", "Mails put in the queue", ["kind"])
MAILS_SENT = Counter("portal_mails_sent_total", "Mails the SMTP server accepted", ["kind"])
MAILS_FAILED = Counter("portal_mails_failed_total", "Tries to send a mail that failed", ["kind"])
MAILS_ABANDONED = Counter("portal_mails_abandoned_total", "Mails given up on", ["kind"])
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
