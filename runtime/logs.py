"""Structured JSON logging to stderr, with secrets kept out.

Log records are redacted twice: values of secret-looking keys passed as `extra`, and
`token=`/`password=` fragments inside messages (a URL logged by a library, say).

Every line written while a request or an event it caused is handled carries its `request_id`
(a context variable: set by the HTTP middleware, by a consumer from the event's NATS header and
by the mail worker from the mail's row), so one registration can be followed from the gateway
through the events to the mail.
"""

import functools
import json
import logging
import re
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

from aiohttp.http_exceptions import HttpProcessingError

_SECRET_KEY = re.compile(r"pass(word)?|secret|token|pin$|key|authorization|cookie|creds", re.I)
_SECRET_IN_TEXT = re.compile(r"(?i)(token|password|passwort|secret|pin|key)(\s*[=:]\s*)([^\s&\"',;]+)")
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


REQUEST_ID_HEADER = "X-Request-Id"
# What a proxy or another service may hand on as an id: anything else in a header is replaced,
# so nothing a client wrote (a newline, kilobytes) ever reaches a log line.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)


def safe_request_id(value: str | None) -> str | None:
    """`value` when it is a usable request id, else None."""
    return value if value is not None and _SAFE_REQUEST_ID.fullmatch(value) else None


def new_request_id() -> str:
    return secrets.token_hex(16)  # as unique as uuid4().hex, the same 32 characters, at less cost


def current_request_id() -> str | None:
    return _REQUEST_ID.get()


@contextmanager
def request_context(request_id: str | None) -> Iterator[None]:
    """Log lines written inside carry `request_id` (none: they carry none, not an outer one)."""
    token = _REQUEST_ID.set(safe_request_id(request_id))
    try:
        yield
    finally:
        _REQUEST_ID.reset(token)


def redact(text: str) -> str:
    if "=" not in text and ":" not in text:  # a secret in text follows one of them (_SECRET_IN_TEXT)
        return text
    return _SECRET_IN_TEXT.sub(lambda m: f"{m.group(1)}{m.group(2)}[redacted]", text)


@functools.lru_cache(maxsize=1024)
def _secret_key(key: str) -> bool:
    """Whether an `extra` key names a secret; the same few keys come with every line."""
    return _SECRET_KEY.search(key) is not None


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str, instance: str = "") -> None:
        super().__init__()
        self.service = service
        self.instance = instance

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        if self.instance:
            entry["instance"] = self.instance
        for key, value in record.__dict__.items():
            if key in _STANDARD or key.startswith("_"):
                continue
            entry[key] = "[redacted]" if _secret_key(key) else _plain(value)
        request_id = _REQUEST_ID.get()
        if request_id is not None:  # after the extras: the id one follows is never overwritten
            entry["request_id"] = request_id
        if record.exc_info:
            entry["error"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def _plain(value: object) -> object:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    return redact(str(value))


class RefusedRequests(logging.Filter):
    """For aiohttp.server: a request it could not parse is logged with an excerpt of its bytes
    (a 10 KB header, a cookie, a forged request id). That the client was refused is worth a
    warning; what it sent never reaches a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            record.exc_info = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.error = f"{type(error).__name__} ({error.code})"
        return True


def setup_logging(service: str, level: str = "INFO", instance: str = "") -> None:
    # A record asks for nothing our lines do not carry: no caller's file and line (a walk up the
    # stack per record), no thread or process names (the logging HOWTO's "Optimization"). A
    # fifth of what a line cost (22-23 -> 17-18 us; issue 12).
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service, instance))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiohttp's access log carries query strings (a confirmation link, say): keep it off;
    # runtime.web writes the portal's own.
    logging.getLogger("aiohttp.access").disabled = True
    server = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, RefusedRequests) for f in server.filters):
        server.addFilter(RefusedRequests())
