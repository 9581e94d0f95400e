import pytest
from faststream.nats import TestNatsBroker
from pydantic import ValidationError

from contracts import UserConfirmedV1
from runtime.cli import Service, parser
from runtime.crypto import generate_keypair, generate_secret, seal
from services.pins.cli import COMMANDS
from services.pins.settings import LetterSettings, RegisterSettings, Settings
from tests.support.consumers import service_broker, subscribe_all


def test_the_import_needs_the_database_url_alone(monkeypatch):
    for name in ("PORTAL_NATS_URL", "PORTAL_PINS_SECRET", "PORTAL_PRINTSHOP_PUBLIC_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PORTAL_DATABASE_URL", "postgresql:///x")
    assert RegisterSettings().database_url.get_secret_value() == "postgresql:///x"
    with pytest.raises(ValidationError):
        LetterSettings()


def test_the_server_has_the_documented_defaults():
    public, _ = generate_keypair()
    settings = Settings(
        database_url="postgresql:///x",
        nats_url="nats://x",
        public_url="http://p.test",
        pins_secret=generate_secret(),
        printshop_public_key=public,
        identity_public_key=public,
    )
    assert (settings.pin_valid_days, settings.annual_pin_valid_days, settings.http_port) == (30, 60, 8002)
    assert settings.pin_requests_per_business_week == 1 and settings.link_failures_per_member_hour == 5


def test_the_commands():
    args = parser(Service("pins", Settings, object), COMMANDS).parse_args(["import-businesses", "b.csv", "--full"])
    assert args.command == "import-businesses" and args.full and str(args.file) == "b.csv"
    assert (
        parser(Service("pins", Settings, object), COMMANDS).parse_args(["issue-annual-pins", "--year", "2026"]).year
        == 2026
    )


def test_one_durable_pull_subscriber_per_event_on_the_users_stream():
    broker = service_broker("pins")
    subscribe_all(broker, "pins", lambda event: None)
    assert sorted((sub.config.durable_name, sub.stream.name) for sub in broker.subscribers) == [
        ("pins_user_confirmed_v1", "PORTAL_USERS"),
        ("pins_user_deleted_v1", "PORTAL_USERS"),
    ]


async def test_the_consumer_hands_the_contract_to_the_use_case():
    seen: list[UserConfirmedV1] = []

    async def accept(event):
        seen.append(event)
        return True

    broker = service_broker("pins")
    subscribe_all(broker, "pins", accept)
    public, _ = generate_keypair()
    event = UserConfirmedV1(
        user_id="6f1c2a36-7a59-4e4c-9f0b-3c9d2d1e0a11",
        email="e@example.de",
        first_name="Erika",
        last_name="Muster",
        initial_password=seal(public, "x" * 14),
        initial_password_expires_at="2030-01-01T00:00:00Z",
    )
    async with TestNatsBroker(broker) as test:
        await test.publish(event.model_dump_json(), UserConfirmedV1.SUBJECT, stream="PORTAL_USERS")
    assert seen == [event]
