import json
import logging

from runtime import identity
from runtime.crypto import derive_key, generate_keypair, keyed_hash, seal, unseal
from runtime.logs import JsonFormatter, redact

SECRET = "s" * 40


def test_sealed_box_opens_only_with_the_private_key() -> None:
    public, private = generate_keypair()
    _, other_private = generate_keypair()
    sealed = seal(public, "Passwort: abc")
    assert "abc" not in sealed
    assert unseal(private, sealed) == "Passwort: abc"
    try:
        unseal(other_private, sealed)
    except Exception as error:
        assert "decrypt" in str(error).lower()
    else:
        raise AssertionError("a foreign key opened the box")


def test_keyed_hash_depends_on_key_and_purpose() -> None:
    a, b = derive_key(SECRET, "tokens"), derive_key(SECRET, "sessions")
    assert a != b
    assert keyed_hash(a, "t") == keyed_hash(a, "t") != keyed_hash(b, "t")


def test_signed_identity_round_trip_and_tampering() -> None:
    headers = identity.sign(SECRET, identity.Identity("user-1:sess", "10.0.0.1"), now=1000)
    assert identity.verify(SECRET, headers, now=1010) == identity.Identity("user-1:sess", "10.0.0.1")
    assert identity.verify(SECRET, {**headers, identity.USER_HEADER: "user-2:sess"}, now=1010) is None
    assert identity.verify("x" * 40, headers, now=1010) is None
    assert identity.verify(SECRET, headers, now=1000 + identity.MAX_AGE_SECONDS + 1) is None
    assert identity.verify(SECRET, {}, now=1000) is None


def test_logs_never_carry_secrets() -> None:
    assert redact("GET /confirm?token=abc123&x=1") == "GET /confirm?token=[redacted]&x=1"
    assert "geheim" not in redact("Passwort: geheim")
    record = logging.makeLogRecord({"msg": "sent %s", "args": ("link?token=xyz",), "password": "hunter2", "user_id": "u1"})
    line = json.loads(JsonFormatter("test").format(record))
    assert line["password"] == "[redacted]" and line["user_id"] == "u1"
    assert "xyz" not in line["msg"]
