import json
import logging

from runtime import identity
from runtime.crypto import derive_key, generate_keypair, keyed_hash, seal, unseal
from runtime.logs import JsonFormatter, redact

SECRET = b"s" * 40


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
    public, private = identity.generate_signing_keypair()
    signer, verifier = identity.Signer(private), identity.Verifier(public)
    who = identity.Identity("user-1:sess:1", "10.0.0.1")
    headers = signer.headers(who, "POST", "/api/v1/pins/links?x=1", b'{"pin": "A"}', now=1000)
    assert verifier.verify(headers, "POST", "/api/v1/pins/links?x=1", b'{"pin": "A"}', now=1010) == who
    # the signature covers who, what, where, the body and the time
    assert (
        verifier.verify(
            {**headers, identity.USER_HEADER: "user-2:sess:1"},
            "POST",
            "/api/v1/pins/links?x=1",
            b'{"pin": "A"}',
            now=1010,
        )
        is None
    )
    assert (
        verifier.verify(
            {**headers, identity.CLIENT_HEADER: "10.0.0.2"}, "POST", "/api/v1/pins/links?x=1", b'{"pin": "A"}', now=1010
        )
        is None
    )
    assert verifier.verify(headers, "DELETE", "/api/v1/pins/links?x=1", b'{"pin": "A"}', now=1010) is None
    assert verifier.verify(headers, "POST", "/api/v1/pins/links?x=2", b'{"pin": "A"}', now=1010) is None
    assert verifier.verify(headers, "POST", "/api/v1/pins/links?x=1", b'{"pin": "B"}', now=1010) is None
    assert (
        verifier.verify(
            headers, "POST", "/api/v1/pins/links?x=1", b'{"pin": "A"}', now=1000 + identity.LIFETIME_SECONDS + 1
        )
        is None
    )
    assert verifier.verify({}, "POST", "/", now=1000) is None
    assert verifier.verify({identity.SIGNATURE_HEADER: "1030.!!"}, "POST", "/", now=1000) is None
    # far in the future: a gateway cannot mint a header that lives longer than the lifetime
    late = signer.headers(who, "GET", "/", now=10_000)
    assert verifier.verify(late, "GET", "/", now=1000) is None


class _Counting:
    """Wraps a nacl key and counts the signatures it makes or checks."""

    def __init__(self, key) -> None:
        self.key, self.calls = key, 0

    def sign(self, message):
        self.calls += 1
        return self.key.sign(message)

    def verify(self, message, signature):
        self.calls += 1
        return self.key.verify(message, signature)


def test_one_signature_per_step_signed_once_and_checked_once() -> None:
    public, private = identity.generate_signing_keypair()
    signer, verifier = identity.Signer(private), identity.Verifier(public)
    signer._key, verifier._key = signing, checking = _Counting(signer._key), _Counting(verifier._key)
    who = identity.Identity("user-1:sess:1", "10.0.0.1")
    step = [signer.headers(who, "GET", "/api/v1/accounts/me", now=1000 + s) for s in range(identity.STEP_SECONDS)]
    assert all(h == step[0] for h in step) and signing.calls == 1
    assert int(step[0][identity.SIGNATURE_HEADER].split(".")[0]) == 1000 + identity.LIFETIME_SECONDS
    assert signer.headers(who, "GET", "/api/v1/accounts/me", now=1005) != step[0] and signing.calls == 2
    assert signer.headers(who, "GET", "/api/v1/pins/businesses/mine", now=1001) != step[0]

    for s in range(5):
        assert verifier.verify(step[0], "GET", "/api/v1/accounts/me", now=1000 + s) == who
    assert checking.calls == 1
    # remembered only for exactly what was checked, and never past the expiry
    assert verifier.verify(step[0], "GET", "/api/v1/accounts/me?x=1", now=1001) is None
    assert (
        verifier.verify({**step[0], identity.CLIENT_HEADER: "10.0.0.2"}, "GET", "/api/v1/accounts/me", now=1001) is None
    )
    assert verifier.verify(step[0], "GET", "/api/v1/accounts/me", now=1000 + identity.LIFETIME_SECONDS + 1) is None


def test_remembered_signatures_stay_bounded() -> None:
    public, private = identity.generate_signing_keypair()
    signer, verifier = identity.Signer(private), identity.Verifier(public)
    for n in range(identity.REMEMBERED + 10):
        headers = signer.headers(identity.Identity(f"u:s:{n}", "10.0.0.1"), "GET", "/", now=1000)
        assert verifier.verify(headers, "GET", "/", now=1000) is not None
    assert signer._sign.cache_info().currsize <= identity.REMEMBERED
    assert verifier._valid.cache_info().currsize <= identity.REMEMBERED


def test_no_other_key_makes_an_identity_a_service_accepts() -> None:
    """A compromised service holds the public key, its own secrets and sealed-box keys: none signs."""
    public, _ = identity.generate_signing_keypair()
    verifier = identity.Verifier(public)
    _, other_signing = identity.generate_signing_keypair()
    _, sealed_box_private = generate_keypair()  # e.g. notifications' own private key
    who = identity.Identity("u:s:1", "10.0.0.1")
    for key in (other_signing, sealed_box_private):
        forged = identity.Signer(key).headers(who, "GET", "/api/v1/pins/businesses/mine")
        assert verifier.verify(forged, "GET", "/api/v1/pins/businesses/mine") is None


def test_logs_never_carry_secrets() -> None:
    assert redact("GET /confirm?token=abc123&x=1") == "GET /confirm?token=[redacted]&x=1"
    assert "geheim" not in redact("Passwort: geheim")
    record = logging.makeLogRecord(
        {"msg": "sent %s", "args": ("link?token=xyz",), "password": "hunter2", "user_id": "u1"}
    )
    line = json.loads(JsonFormatter("test").format(record))
    assert line["password"] == "[redacted]" and line["user_id"] == "u1"
    assert "xyz" not in line["msg"]
    # the same key again (its verdict is remembered), and text without "=" or ":" left as it is
    again = json.loads(JsonFormatter("test").format(logging.makeLogRecord({"msg": "x", "password": "hunter3"})))
    assert again["password"] == "[redacted]"
    assert redact("pin 1234 token abc") == "pin 1234 token abc" and "abc" not in redact("token = abc")
