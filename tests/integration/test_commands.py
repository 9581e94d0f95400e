"""The services' command lines behave like commands: --help starts nothing, migrate migrates and exits."""

import os
import secrets
import subprocess
import sys

import pytest

from deploy.infra import ROOT, SERVICES

pytestmark = pytest.mark.integration


def run(service: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    return subprocess.run(
        [sys.executable, "-m", f"services.{service}", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("service", SERVICES)
def test_help_explains_and_starts_nothing(service) -> None:
    done = run(service, "--help")  # no PORTAL_* at all: it would refuse to start
    assert done.returncode == 0 and f"python -m services.{service}" in done.stdout and "serve" in done.stdout
    assert ("migrate" in done.stdout) == (service != "gateway")


@pytest.mark.parametrize("service", ["accounts", "pins", "notifications"])
async def test_migrate_applies_the_schema_once_and_exits(service, postgres) -> None:
    dsn = await postgres.create_database(f"migrate_{secrets.token_hex(4)}")
    first = run(service, "migrate", PORTAL_DATABASE_URL=dsn)
    assert first.returncode == 0, first.stderr
    assert "runtime/0001_outbox" in first.stdout and f"{service}: " in first.stdout
    again = run(service, "migrate", PORTAL_DATABASE_URL=dsn)
    assert again.returncode == 0 and "0 migration(s) applied" in again.stdout


def test_migrate_without_a_database_says_what_is_missing() -> None:
    done = run("accounts", "migrate")
    assert done.returncode == 2 and "PORTAL_DATABASE_URL is not set" in done.stderr
