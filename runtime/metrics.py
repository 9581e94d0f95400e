"""Prometheus metrics shared by every service; a service adds its own beside these."""

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter("portal_http_requests_total", "HTTP requests answered", ["method", "route", "status"])
HTTP_LATENCY = Histogram(
    "portal_http_request_seconds",
    "HTTP request latency",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
EVENTS_PUBLISHED = Counter("portal_events_published_total", "Outbox events published to JetStream")
# A stuck outbox row: failures by subject, and the backlog as the relay last saw it.
OUTBOX_PUBLISH_FAILURES = Counter(
    "portal_outbox_publish_failures_total", "Outbox rows that failed to publish (retried with backoff)", ["subject"]
)
OUTBOX_PENDING = Gauge("portal_outbox_pending", "Outbox rows not published yet")
OUTBOX_FAILING = Gauge("portal_outbox_failing", "Outbox rows not published yet that failed at least once")
OUTBOX_OLDEST_AGE = Gauge("portal_outbox_oldest_age_seconds", "Age of the oldest outbox row not published yet")
EVENTS_HANDLED = Counter("portal_events_handled_total", "Events consumed", ["subject", "outcome"])
# Rows of the service's dead-letter table by state (open, retried, dropped), from the table
# itself: every replica reports the same numbers (alert on max by service of state="open").
DEAD_LETTERS = Gauge("portal_dead_letters", "Dead letters in the service's table", ["service", "state"])
DEAD_LETTERED = Counter(
    "portal_dead_lettered_total",
    "Messages this process put into its dead-letter table",
    ["service", "subject", "reason"],
)
