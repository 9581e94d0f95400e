"""Structured JSON logging to stderr, with secrets kept out.

Log records are redacted twice: values of secret-looking keys passed as `extra`, and
`token=`/`password=` fragments inside messages (a URL logged by a library, say).
"""

import json
import logging
import re
import sys
from datetime import UTC, datetime

_SECRET_KEY = re.compile(r"pass(word)?|secret|token|pin$|key|authorization|cookie|creds", re.I)
_SECRET_IN_TEXT = re.compile(r"(?i)(token|password|passwort|secret|pin|key)(\s*[=:]\s*)([^\s&\"',;]+)")
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


def redact(text: str) -> str:
    return _SECRET_IN_TEXT.sub(lambda m: f"{m.group(1)}{m.group(2)}[redacted]", text)


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
            entry[key] = "[redacted]" if _SECRET_KEY.search(key) else _plain(value)
        if record.exc_info:
            entry["error"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def _plain(value: object) -> object:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    return redact(str(value))


def setup_logging(service: str, level: str = "INFO", instance: str = "") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service, instance))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiohttp's access log carries query strings (a confirmation link, say): keep it off.
    logging.getLogger("aiohttp.access").disabled = True
