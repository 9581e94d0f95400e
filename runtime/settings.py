"""Configuration from `PORTAL_*` environment variables only (pydantic-settings).

Secrets have no defaults: a service refuses to start without them and says which one is missing.
"""

import sys
from pathlib import Path
from typing import TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from runtime.crypto import check_key


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PORTAL_", extra="ignore", frozen=True)

    nats_url: str = Field(description="Comma-separated NATS servers.")
    nats_creds: Path | None = Field(default=None, description="A NATS credentials file, where the server wants one.")
    nats_ca: Path | None = Field(default=None, description="CA file of a private CA for tls:// NATS servers.")
    stream_replicas: int = Field(default=1, ge=1, le=5, description="Replicas readiness expects of each stream.")
    public_url: str = Field(description="The portal's public base URL, e.g. https://portal.example")
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    http_reuse_port: bool = Field(default=False, description="Several processes on one port.")
    # /metrics has a listener of its own, never the public port: loopback unless ops open it to
    # their Prometheus (e.g. 0.0.0.0 inside a pod whose NetworkPolicy admits only the scraper).
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9000, ge=0, le=65535, description="0: any free port (logged).")
    log_level: str = "INFO"
    instance: str = Field(default="", description="Replica name in logs and the NATS client name.")

    @field_validator("public_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @property
    def nats_servers(self) -> list[str]:
        return [s.strip() for s in self.nats_url.split(",") if s.strip()]

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")


class DatabaseUrlSettings(BaseSettings):
    """What a command that only touches the service's own schema reads: PORTAL_DATABASE_URL."""

    model_config = SettingsConfigDict(env_prefix="PORTAL_", extra="ignore", frozen=True)

    database_url: SecretStr = Field(description="Postgres DSN; the service uses its own schema.")


class BackendSettings(ServiceSettings):
    """A service behind the gateway: it checks the gateway's signature on every identity."""

    identity_public_key: str = Field(description="base64 Ed25519 public key of the gateway's identity signature")

    @field_validator("identity_public_key")
    @classmethod
    def _identity_key(cls, value: str) -> str:
        return check_key(value, "Ed25519 public key")


class DatabaseServiceSettings(BackendSettings):
    """A service that owns a Postgres schema (all but the gateway)."""

    database_url: SecretStr = Field(description="Postgres DSN; the service uses its own schema.")


S = TypeVar("S", bound=ServiceSettings)


def load_settings(cls: type[S], service: str) -> S:
    """Read the settings or stop the process with one line per problem (no values shown)."""
    try:
        return cls()  # type: ignore[call-arg]
    except ValidationError as error:
        for problem in error.errors():
            name = "PORTAL_" + "_".join(str(p) for p in problem["loc"]).upper()
            reason = "is not set" if problem["type"] == "missing" else problem["msg"]
            print(f"{service}: cannot start: {name} {reason}", file=sys.stderr)
        raise SystemExit(2) from None
