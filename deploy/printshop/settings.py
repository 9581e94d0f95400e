"""The print shop's configuration, from PRINTSHOP_* environment variables alone."""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from contracts import PinRequestedV1
from contracts.durables import durable_for, inbox_prefix

# fixed by the contract: ops create this durable and the NATS permissions name it
_DURABLE = durable_for("printshop", PinRequestedV1.SUBJECT)
DURABLE = _DURABLE.name  # printshop_pin_requested_v1
STREAM = _DURABLE.stream  # PORTAL_PINS
INBOX_PREFIX = inbox_prefix("printshop")  # the only inbox the printshop user may subscribe to


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    nats_servers: list[str]
    private_key: str
    output_dir: Path
    nats_user: str | None = None
    nats_password: str | None = None
    nats_creds: Path | None = None
    nats_ca: Path | None = None  # a private CA for tls:// servers
    http_port: int | None = None
    http_host: str = "127.0.0.1"
    ack_wait_seconds: float = 60.0
    portal_url: str | None = None
    log_level: str = "INFO"
    crash_before_ack: bool = False  # tests only: SIGKILL itself after writing, before the ack

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(f"PRINTSHOP_{name}", "").strip()
            return value or None

        missing = [n for n in ("NATS_URL", "OUTPUT_DIR") if not get(n)]
        key = get("PRIVATE_KEY")
        if key is None and (key_file := get("PRIVATE_KEY_FILE")):
            try:
                key = Path(key_file).read_text().strip()
            except OSError as error:
                raise ConfigError(f"PRINTSHOP_PRIVATE_KEY_FILE: {error}") from None
        if not key:
            missing.append("PRIVATE_KEY (or PRIVATE_KEY_FILE)")
        if missing:
            raise ConfigError("missing: " + ", ".join(f"PRINTSHOP_{n}" for n in missing))
        try:
            port = int(get("HTTP_PORT")) if get("HTTP_PORT") else None
            ack_wait = float(get("ACK_WAIT_SECONDS") or 60)
        except ValueError as error:
            raise ConfigError(str(error)) from None
        if ack_wait <= 0:
            raise ConfigError("PRINTSHOP_ACK_WAIT_SECONDS must be positive")
        return cls(
            nats_servers=[s.strip() for s in get("NATS_URL").split(",") if s.strip()],
            private_key=key,
            output_dir=Path(get("OUTPUT_DIR")),
            nats_user=get("NATS_USER"),
            nats_password=get("NATS_PASSWORD"),
            nats_creds=Path(get("NATS_CREDS")) if get("NATS_CREDS") else None,
            nats_ca=Path(get("NATS_CA")) if get("NATS_CA") else None,
            http_port=port,
            http_host=get("HTTP_HOST") or "127.0.0.1",
            ack_wait_seconds=ack_wait,
            portal_url=get("PORTAL_URL"),
            log_level=(get("LOG_LEVEL") or "INFO").upper(),
            crash_before_ack=(get("CRASH_BEFORE_ACK") or "").lower() in {"1", "true", "yes"},
        )
