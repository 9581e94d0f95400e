"""The pure parts of the local runner and test infrastructure."""

import base64
import json
import stat
from dataclasses import asdict

import pytest

from deploy.infra import Secrets, portal_env, write_private
from tests.support.mail import extract_password, extract_token_link


def test_token_link_is_the_one_link_with_a_token():
    text = "Hallo,\nbitte bestätigen: http://localhost:8000/bestaetigen?token=a-b_c.\nhttp://localhost:8000/faq\n"
    assert extract_token_link(text) == "http://localhost:8000/bestaetigen?token=a-b_c"


@pytest.mark.parametrize("text", ["keine Links", "http://x/?token=1 http://x/?token=2"])
def test_token_link_must_be_exactly_one(text):
    with pytest.raises(AssertionError):
        extract_token_link(text)


def test_password_is_the_line_that_starts_passwort():
    assert extract_password("Ihr Passwort lautet:\nPasswort: aB3dEf7h\nViele Grüße") == "aB3dEf7h"
    with pytest.raises(AssertionError):
        extract_password("Ihr Passwort: aB3dEf7h")


def test_each_service_gets_only_its_own_secrets():
    secrets = Secrets.generate()
    env = portal_env(
        nats_url="nats://n:4222",
        database_url="postgresql://db",
        smtp_host="127.0.0.1",
        smtp_port=1025,
        secrets=secrets,
        dev_mode=True,
        mail_inbox_url="http://127.0.0.1:8025",
    )
    assert {n: e["PORTAL_HTTP_PORT"] for n, e in env.items()} == {
        "gateway": "8000",
        "accounts": "8001",
        "pins": "8002",
        "notifications": "8003",
    }
    assert "PORTAL_DATABASE_URL" not in env["gateway"]
    assert env["gateway"]["PORTAL_PINS_URL"] == "http://127.0.0.1:8002"
    assert env["gateway"]["PORTAL_DEV_MODE"] == "true"
    private = secrets.notifications_private_key
    assert [n for n, e in env.items() if private in e.values()] == ["notifications"]
    assert all(secrets.printshop_private_key not in e.values() for e in env.values())
    # one key per purpose, each only where it is needed
    holders = {
        name: [n for n, e in env.items() if value in e.values()]
        for name, value in (
            ("identity_private_key", secrets.identity_private_key),
            ("identity_public_key", secrets.identity_public_key),
            ("accounts_secret", secrets.accounts_secret),
            ("pins_secret", secrets.pins_secret),
        )
    }
    assert holders == {
        "identity_private_key": ["gateway"],
        "identity_public_key": ["accounts", "pins", "notifications"],
        "accounts_secret": ["accounts"],
        "pins_secret": ["pins"],
    }
    assert not any(name == "PORTAL_INTERNAL_SECRET" for e in env.values() for name in e)
    assert len(base64.b64decode(secrets.accounts_secret)) >= 32 and len(base64.b64decode(secrets.pins_secret)) >= 32


def test_secrets_are_kept_private_between_runs(tmp_path):
    path = tmp_path / "var" / "secrets.json"
    first = Secrets.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Secrets.load_or_create(path) == first
    assert json.loads(path.read_text())["printshop_private_key"] == first.printshop_private_key


def test_secrets_of_an_older_version_keep_their_keys_and_gain_the_new_ones(tmp_path):
    path = tmp_path / "secrets.json"
    old = {k: v for k, v in asdict(Secrets.generate()).items() if not k.startswith(("identity", "accounts", "pins"))}
    write_private(path, json.dumps({**old, "internal_secret": "retired-" + "x" * 40}))
    loaded = Secrets.load_or_create(path)
    assert loaded.printshop_private_key == old["printshop_private_key"]
    assert "internal_secret" not in json.loads(path.read_text())
    assert Secrets.load_or_create(path) == loaded


def test_free_ports_are_never_handed_out_twice():
    from deploy.infra import free_port

    ports = [free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)
