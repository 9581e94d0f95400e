"""Prometheus metrics shared by every service; a service adds its own beside these."""

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter("portal_http_requests_total", "HTTP requests answered", ["method", "route", "status"])
# Seconds, by route (aiohttp's canonical pattern: bounded), method and status class ("2xx", "5xx"):
# a p99 per route and a 5xx ratio without one series per status code. The buckets reach 10 s:
# an argon2id hash under load takes ~0.1-1 s, and the gateway waits on a service up to its timeout.
HTTP_LATENCY = Histogram(
    "portal_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route", "status_class"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
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

# From JetStream's CONSUMER.INFO / STREAM.INFO, polled by runtime.jetstream_gauges: the same values
# on every replica of a service (alert on max by stream, durable). A failed poll leaves the last
# value and counts an error.
CONSUMER_PENDING = Gauge(
    "portal_consumer_pending", "Messages in the stream the durable has not delivered yet", ["stream", "durable"]
)
CONSUMER_ACK_PENDING = Gauge(
    "portal_consumer_ack_pending", "Messages delivered to the durable and not acknowledged yet", ["stream", "durable"]
)
CONSUMER_REDELIVERED = Gauge(
    "portal_consumer_redelivered",
    "Messages of the durable delivered more than once, not acknowledged yet",
    ["stream", "durable"],
)
STREAM_REPLICAS = Gauge(
    "portal_stream_replicas", "Replicas of the stream that are current (the leader included)", ["stream"]
)
STREAM_REPLICAS_EXPECTED = Gauge(
    "portal_stream_replicas_expected", "Replicas the service expects of the stream (PORTAL_STREAM_REPLICAS)", ["stream"]
)
JETSTREAM_INFO_ERRORS = Counter(
    "portal_jetstream_info_errors_total", "Polls of CONSUMER.INFO / STREAM.INFO that failed", ["kind"]
)
# /readyz's checks (database, messaging, ...) as the service last ran them (runtime.readiness_gauge).
READY = Gauge("portal_ready", "1 while the readiness check passes, 0 while it fails", ["check"])
