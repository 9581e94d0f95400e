"""Prometheus metrics shared by every service; a service adds its own beside these."""

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter("portal_http_requests_total", "HTTP requests answered", ["method", "route", "status"])
HTTP_LATENCY = Histogram(
    "portal_http_request_seconds",
    "HTTP request latency",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
EVENTS_PUBLISHED = Counter("portal_events_published_total", "Outbox events published to JetStream")
EVENTS_HANDLED = Counter("portal_events_handled_total", "Events consumed", ["subject", "outcome"])
