"""The authenticated user as the gateway passes it on: headers signed with the gateway's Ed25519 key.

Only the gateway holds the private key (`PORTAL_IDENTITY_PRIVATE_KEY`); the services hold the
public one (`PORTAL_IDENTITY_PUBLIC_KEY`), so a compromised service can check identities but never
make one. The signature covers the request itself — method, path with query, a digest of the body —
and a short expiry, so a captured header cannot be moved to another request or kept for later.
The gateway strips all of these headers from every inbound request before it adds its own.

The expiry moves in steps of a few seconds, so a member's requests for one path with one body
within a step carry the same header: the gateway signs it once and each service checks the
signature once, and both remember the result (a bounded number of them; issue 12). Remembering
changes nothing of what is accepted: a service remembers only verdicts it reached itself, keyed by
the signature and everything it covers, and checks the expiry on every request.
"""

import base64
import binascii
import functools
import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

USER_HEADER = "X-Portal-User"
CLIENT_HEADER = "X-Portal-Client"
SIGNATURE_HEADER = "X-Portal-Signature"
IDENTITY_HEADERS = (USER_HEADER, CLIENT_HEADER, SIGNATURE_HEADER)
# Long enough for a slow upstream call with its retries of the connection, short enough that a
# header found in a log is worthless.
LIFETIME_SECONDS = 30
# A header expires LIFETIME_SECONDS after the start of the step it was made in: it lives 25 to 30 s.
STEP_SECONDS = 5
REMEMBERED = 4096  # signatures a signer or a verifier keeps; the least recently used are forgotten
EMPTY_BODY = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True)
class Identity:
    user: str  # runtime.sessions.SessionUser.header(), or "" when anonymous
    client: str  # the client's address as the gateway determined it


def _message(identity: Identity, method: str, path: str, body_digest: str, expires: str) -> bytes:
    return f"{expires}\n{method}\n{path}\n{body_digest}\n{identity.user}\n{identity.client}".encode()


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest() if body else EMPTY_BODY


class Signer:
    """The gateway's half."""

    def __init__(self, private_key_b64: str) -> None:
        self._key = SigningKey(base64.b64decode(private_key_b64))
        self._sign = functools.lru_cache(maxsize=REMEMBERED)(self._signature)

    def headers(
        self, identity: Identity, method: str, path: str, body: bytes = b"", now: float | None = None
    ) -> dict[str, str]:
        current = int(now if now is not None else time.time())
        expires = str(current - current % STEP_SECONDS + LIFETIME_SECONDS)
        signature = self._sign(_message(identity, method, path, body_digest(body), expires))
        return {USER_HEADER: identity.user, CLIENT_HEADER: identity.client, SIGNATURE_HEADER: f"{expires}.{signature}"}

    def _signature(self, message: bytes) -> str:
        return base64.urlsafe_b64encode(self._key.sign(message).signature).decode()


class Verifier:
    """Every service's half."""

    def __init__(self, public_key_b64: str) -> None:
        self._key = VerifyKey(base64.b64decode(public_key_b64))
        self._valid = functools.lru_cache(maxsize=REMEMBERED)(self._check)

    def verify(
        self, headers: Mapping[str, str], method: str, path: str, body: bytes = b"", now: float | None = None
    ) -> Identity | None:
        expires, _, signature = headers.get(SIGNATURE_HEADER, "").partition(".")
        if not expires.isdigit() or not signature:
            return None
        current = now if now is not None else time.time()
        if not current <= int(expires) <= current + LIFETIME_SECONDS + 5:  # 5 s of clock skew
            return None
        identity = Identity(user=headers.get(USER_HEADER, ""), client=headers.get(CLIENT_HEADER, ""))
        valid = self._valid(_message(identity, method, path, body_digest(body), expires), signature)
        return identity if valid else None

    def _check(self, message: bytes, signature: str) -> bool:
        """The same bytes get the same verdict every time: it is remembered, right or wrong."""
        try:
            self._key.verify(message, base64.urlsafe_b64decode(signature))
        except (BadSignatureError, binascii.Error, ValueError):
            return False
        return True


def generate_signing_keypair() -> tuple[str, str]:
    """(public, private), base64 of the raw 32 bytes: PORTAL_IDENTITY_PUBLIC_KEY / _PRIVATE_KEY."""
    key = SigningKey.generate()
    return base64.b64encode(bytes(key.verify_key)).decode(), base64.b64encode(bytes(key)).decode()
