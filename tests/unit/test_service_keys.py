"""Each service starts with exactly the keys it needs, and refuses to start without any of them."""

import pytest
from pydantic import ValidationError

from deploy.infra import Secrets, portal_env
from services.accounts.settings import Settings as AccountsSettings
from services.gateway.settings import Settings as GatewaySettings
from services.notifications.settings import Settings as NotificationsSettings
from services.pins.settings import Settings as PinsSettings

SETTINGS = {
    "gateway": GatewaySettings,
    "accounts": AccountsSettings,
    "pins": PinsSettings,
    "notifications": NotificationsSettings,
}
KEYS = {
    "gateway": {"PORTAL_IDENTITY_PRIVATE_KEY"},
    "accounts": {"PORTAL_IDENTITY_PUBLIC_KEY", "PORTAL_ACCOUNTS_SECRET", "PORTAL_NOTIFICATIONS_PUBLIC_KEY"},
    "pins": {"PORTAL_IDENTITY_PUBLIC_KEY", "PORTAL_PINS_SECRET", "PORTAL_PRINTSHOP_PUBLIC_KEY"},
    "notifications": {
        "PORTAL_IDENTITY_PUBLIC_KEY",
        "PORTAL_NOTIFICATIONS_PUBLIC_KEY",
        "PORTAL_NOTIFICATIONS_PRIVATE_KEY",
    },
}


@pytest.fixture(autouse=True)
def _no_portal_environment(monkeypatch):
    import os

    for name in [n for n in os.environ if n.startswith("PORTAL_")]:
        monkeypatch.delenv(name)


def env_of(service: str) -> dict[str, str]:
    return portal_env(
        nats_url="nats://127.0.0.1:4222",
        database_url="postgresql://db",
        smtp_host="127.0.0.1",
        smtp_port=1025,
        secrets=Secrets.generate(),
    )[service]


@pytest.mark.parametrize("service", SETTINGS)
def test_a_service_starts_with_its_own_keys_and_holds_no_other(service, monkeypatch):
    env = env_of(service)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    SETTINGS[service]()
    every_key = set().union(*KEYS.values())
    assert {name for name in env if name in every_key} == KEYS[service]


@pytest.mark.parametrize(("service", "key"), [(s, k) for s, keys in KEYS.items() for k in sorted(keys)])
def test_without_any_of_its_keys_a_service_refuses_to_start(service, key, monkeypatch):
    for name, value in env_of(service).items():
        if name != key:
            monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        SETTINGS[service]()


@pytest.mark.parametrize("bad", ["", "not base64!", "c2hvcnQ="])  # "short": 5 bytes
@pytest.mark.parametrize(
    ("service", "key"),
    [
        ("accounts", "PORTAL_ACCOUNTS_SECRET"),
        ("pins", "PORTAL_PINS_SECRET"),
        ("gateway", "PORTAL_IDENTITY_PRIVATE_KEY"),
        ("pins", "PORTAL_IDENTITY_PUBLIC_KEY"),
    ],
)
def test_a_weak_or_malformed_key_is_refused(service, key, bad, monkeypatch):
    for name, value in env_of(service).items():
        monkeypatch.setenv(name, bad if name == key else value)
    with pytest.raises(ValidationError):
        SETTINGS[service]()
