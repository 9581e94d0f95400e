"""The NATS set-up without a server: what deploy.streams wants, what it changes, that
deploy/nats/accounts.conf grants each durable of contracts/ to its reader alone, and how a
service's broker connects."""

import re
import ssl
from types import SimpleNamespace

import pytest
from faststream.nats import NatsBroker
from nats.js.api import AckPolicy, ConsumerConfig, StorageType, StreamConfig

from contracts import STREAMS, PinLinkedV1
from contracts.durables import DURABLES, PUBLISHES, durable_for, inbox_prefix
from deploy import streams
from deploy.nats_local import ACCOUNTS_CONF, LocalTls, NatsPasswords, with_user
from deploy.printshop.settings import DURABLE, INBOX_PREFIX, STREAM
from runtime import bus, consumers
from tests.support.consumers import MemoryDeadLetters


def test_every_stream_keeps_the_record():
    for name, spec in STREAMS.items():
        config = streams.stream_config(name, replicas=3)
        assert (config.deny_delete, config.deny_purge, config.num_replicas) == (True, True, 3)
        assert config.storage == StorageType.FILE and config.duplicate_window == 600
        assert config.max_age == spec["max_age_days"] * 86400 and config.subjects == spec["subjects"]


def test_an_existing_stream_gains_the_flags_and_replicas_but_keeps_more_replicas():
    desired = streams.stream_config("PORTAL_PINS", replicas=3)
    assert streams.stream_differences(desired, desired) == {}
    old = desired.evolve(deny_delete=False, deny_purge=False, num_replicas=1, duplicate_window=120.0)
    assert streams.stream_differences(old, desired) == {
        "duplicate_window": 600.0,
        "deny_delete": True,
        "deny_purge": True,
        "num_replicas": 3,
    }
    more = desired.evolve(num_replicas=5)
    assert streams.stream_differences(more, desired) == {}  # never lowered


def test_a_stream_on_other_storage_is_reported_not_replaced():
    desired = streams.stream_config("PORTAL_USERS", replicas=1)
    with pytest.raises(streams.StreamsError, match="memory"):
        streams.stream_differences(desired.evolve(storage=StorageType.MEMORY), desired)


def test_a_durable_pulls_exactly_its_event_with_explicit_acks():
    durable = durable_for("accounts", PinLinkedV1.SUBJECT)
    config = streams.consumer_config(durable)
    assert (config.durable_name, config.filter_subject, config.ack_policy) == (
        "accounts_pin_linked_v1",
        "pin.linked.v1",
        AckPolicy.EXPLICIT,
    )
    assert config.deliver_subject is None
    assert streams.consumer_differences(config, durable) == {}
    assert streams.consumer_differences(config.evolve(filter_subject="pin.>"), durable) == {
        "filter_subject": "pin.linked.v1",
        "filter_subjects": None,
    }
    tuned = config.evolve(ack_wait=90.0, max_ack_pending=5, description="tuned by ops")
    assert streams.consumer_differences(tuned, durable) == {}  # left as the operator made it
    with pytest.raises(streams.StreamsError, match="push"):
        streams.consumer_differences(config.evolve(deliver_subject="somewhere"), durable)
    with pytest.raises(streams.StreamsError, match="ack"):
        streams.consumer_differences(ConsumerConfig(filter_subject="pin.linked.v1", ack_policy=AckPolicy.NONE), durable)


def test_a_services_durable_has_the_contracts_redelivery_and_room_for_failed_messages():
    durable = durable_for("pins", "user.confirmed.v1")
    config = streams.consumer_config(durable)
    assert config.max_deliver == durable.redelivery.max_deliver == len(durable.redelivery.backoff) + 1
    assert config.backoff == list(durable.redelivery.backoff)
    assert config.ack_wait == durable.redelivery.backoff[0]  # what JetStream makes of a backoff anyway
    assert config.max_ack_pending >= 1000  # failed messages waiting for their next try hold up no others
    printshop = streams.consumer_config(durable_for("printshop", "pin.requested.v1"))
    assert (printshop.max_deliver, printshop.backoff, printshop.ack_wait) == (-1, None, streams.ACK_WAIT_SECONDS)


def test_a_durable_made_before_dead_letters_gains_the_limits_but_a_tuned_one_keeps_its_own():
    durable = durable_for("notifications", "pin.linked.v1")
    before = streams.consumer_config(durable).evolve(max_deliver=-1, backoff=None, ack_wait=30.0)
    assert streams.consumer_differences(before, durable) == streams.redelivery_config(durable)
    tuned = before.evolve(max_deliver=4, backoff=[1.0, 1.0, 1.0], ack_wait=1.0)
    assert streams.consumer_differences(tuned, durable) == {}
    printshop = durable_for("printshop", "pin.requested.v1")
    assert streams.consumer_differences(streams.consumer_config(printshop), printshop) == {}


def test_durables_are_named_by_reader_and_event_and_unique():
    names = [d.name for d in DURABLES]
    assert len(names) == len(set(names))
    for durable in DURABLES:
        assert durable.name == f"{durable.service}_{durable.subject.replace('.', '_')}"
        assert any(durable.subject.startswith(s.removesuffix(">")) for s in STREAMS[durable.stream]["subjects"])
    with pytest.raises(LookupError, match="contracts/durables.py"):
        durable_for("gateway", "session.revoke.v1")


def test_the_print_shop_and_the_services_use_the_contract_names():
    assert (DURABLE, STREAM, INBOX_PREFIX) == ("printshop_pin_requested_v1", "PORTAL_PINS", "_INBOX.printshop")
    assert consumers.durable_name("notifications", "pin.linked.v1") == "notifications_pin_linked_v1"
    broker = NatsBroker()
    consumers.subscribe(broker, "accounts", PinLinkedV1, lambda event: None, MemoryDeadLetters())
    (subscriber,) = broker.subscribers
    assert subscriber.extra_options["durable"] == "accounts_pin_linked_v1"
    assert subscriber.extra_options["stream"] == "PORTAL_PINS"
    assert subscriber.extra_options["inbox_prefix"] == b"_INBOX.accounts."


def _user_blocks() -> dict[str, str]:
    """accounts.conf cut into the text of each user's entry."""
    text = ACCOUNTS_CONF.read_text()
    starts = [(m.group(1), m.start()) for m in re.finditer(r"\buser: (\w+), password:", text)]
    return {
        user: text[start : (starts[i + 1][1] if i + 1 < len(starts) else len(text))]
        for i, (user, start) in enumerate(starts)
    }


def test_accounts_conf_grants_each_durable_to_its_reader_alone():
    blocks = _user_blocks()
    assert set(blocks) == {"accounts", "pins", "notifications", "gateway", "printshop", "ops", "sys"}
    for durable in DURABLES:
        grants = [
            f'"$JS.API.CONSUMER.INFO.{durable.stream}.{durable.name}"',
            f'"$JS.API.CONSUMER.MSG.NEXT.{durable.stream}.{durable.name}"',
            f'"$JS.ACK.{durable.stream}.{durable.name}.>"',
        ]
        for user, block in blocks.items():
            for grant in grants:
                assert (grant in block) == (user == durable.service), (user, grant)


def test_accounts_conf_lets_each_service_publish_its_subjects_read_its_streams_and_inbox():
    blocks = _user_blocks()
    for service in ("accounts", "pins", "notifications"):
        block = blocks[service]
        for pattern in PUBLISHES.get(service, ()):
            assert f'"{pattern}"' in block
        for stream in bus.streams_used(service):
            assert f'"$JS.API.STREAM.INFO.{stream}"' in block
        assert f'subscribe: {{ allow: ["{inbox_prefix(service)}.>"] }}' in block
        assert "$JS.API.>" not in block and "$JS.API.STREAM.PURGE" not in block
    assert 'subscribe: { allow: ["session.revoke.v1"] }' in blocks["gateway"]
    assert 'publish: { deny: [">"] }' in blocks["gateway"] and "$JS" not in blocks["gateway"].split("{", 1)[1]


def test_the_streams_each_service_uses():
    assert bus.streams_used("accounts") == ["PORTAL_USERS", "PORTAL_PINS", "PORTAL_SESSIONS"]
    assert bus.streams_used("pins") == ["PORTAL_USERS", "PORTAL_PINS"]
    assert bus.streams_used("notifications") == ["PORTAL_USERS", "PORTAL_PINS"]
    assert bus.streams_used("gateway") == []


def _settings(**overrides):
    base = {
        "instance": "",
        "nats_servers": ["nats://127.0.0.1:4222"],
        "stream_replicas": 1,
        "nats_ca": None,
        "nats_creds": None,
    }
    return SimpleNamespace(**{**base, **overrides})


def test_a_broker_speaks_tls_to_tls_servers_and_trusts_the_private_ca(tmp_path):
    plain = bus.create_broker(_settings(), "pins")
    assert plain._connection_kwargs.get("tls") is None
    assert plain._connection_kwargs["inbox_prefix"] == "_INBOX.pins"
    assert (plain.service, plain.stream_replicas) == ("pins", 1)

    tls = LocalTls.load_or_create(tmp_path / "tls")
    secured = bus.create_broker(
        _settings(nats_servers=["tls://pins:pwx@127.0.0.1:4222"], nats_ca=tls.ca_file, stream_replicas=3), "pins"
    )
    context = secured._connection_kwargs["tls"]
    assert isinstance(context, ssl.SSLContext) and context.verify_mode == ssl.CERT_REQUIRED
    assert context.get_ca_certs()[0]["subject"] == ((("commonName", "Kundenportal local NATS CA"),),)
    assert secured.stream_replicas == 3


def test_local_passwords_and_certificates(tmp_path):
    from cryptography import x509

    passwords = NatsPasswords.load_or_create(tmp_path / "nats-passwords.json")
    assert NatsPasswords.load_or_create(tmp_path / "nats-passwords.json") == passwords  # kept
    assert (tmp_path / "nats-passwords.json").stat().st_mode & 0o777 == 0o600
    assert all(p.startswith("pw") and len(p) > 40 for p in passwords.passwords.values())
    assert passwords["ops"] not in repr(passwords)
    assert passwords.server_env()["NATS_GATEWAY_PASSWORD"] == passwords["gateway"]
    assert with_user("tls://127.0.0.1:4222", "pins", "p w") == "tls://pins:p%20w@127.0.0.1:4222"

    tls = LocalTls.load_or_create(tmp_path / "tls")
    cert = x509.load_pem_x509_certificate(tls.cert_file.read_bytes())
    ca = x509.load_pem_x509_certificate(tls.ca_file.read_bytes())
    cert.verify_directly_issued_by(ca)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert tls.key_file.stat().st_mode & 0o777 == 0o600
    again = LocalTls.load_or_create(tmp_path / "tls")
    assert again.cert_file.read_bytes() == tls.cert_file.read_bytes()  # still valid: kept


def test_streams_command_help_and_arguments(monkeypatch):
    monkeypatch.setenv("NATS_URL", "tls://a:4222, tls://b:4222")
    monkeypatch.setenv("NATS_PASSWORD", "from-env")
    args = streams.parse_args(["--replicas", "3", "--user", "ops"])
    assert (args.servers, args.replicas, args.user, args.password) == (
        ["tls://a:4222", "tls://b:4222"],
        3,
        "ops",
        "from-env",
    )
    with pytest.raises(SystemExit):
        streams.parse_args(["--replicas", "0"])
    assert isinstance(streams.stream_config("PORTAL_SESSIONS", 1), StreamConfig)
