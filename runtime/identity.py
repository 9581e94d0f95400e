"""The authenticated user as the gateway passes it on: a header signed with the internal secret.

Services trust `X-Portal-User` only with a valid, fresh `X-Portal-Signature`; the gateway strips
both from every inbound request before it adds its own.
"""

import hashlib
import hmac
import time
from dataclasses import dataclass

USER_HEADER = "X-Portal-User"
CLIENT_HEADER = "X-Portal-Client"
SIGNATURE_HEADER = "X-Portal-Signature"
IDENTITY_HEADERS = (USER_HEADER, CLIENT_HEADER, SIGNATURE_HEADER)
MAX_AGE_SECONDS = 60


@dataclass(frozen=True)
class Identity:
    user: str  # "<user id>:<session id>", or "" when anonymous
    client: str  # the client's address as the gateway saw it


def sign(secret: str, identity: Identity, now: float | None = None) -> dict[str, str]:
    stamp = str(int(now if now is not None else time.time()))
    mac = _mac(secret, identity, stamp)
    return {USER_HEADER: identity.user, CLIENT_HEADER: identity.client, SIGNATURE_HEADER: f"{stamp}.{mac}"}


def verify(secret: str, headers: "dict[str, str] | object", now: float | None = None) -> Identity | None:
    get = headers.get  # type: ignore[attr-defined]
    signature = get(SIGNATURE_HEADER, "")
    stamp, _, mac = signature.partition(".")
    if not stamp.isdigit() or not mac:
        return None
    current = now if now is not None else time.time()
    if abs(current - int(stamp)) > MAX_AGE_SECONDS:
        return None
    identity = Identity(user=get(USER_HEADER, ""), client=get(CLIENT_HEADER, ""))
    if not hmac.compare_digest(mac, _mac(secret, identity, stamp)):
        return None
    return identity


def _mac(secret: str, identity: Identity, stamp: str) -> str:
    message = f"{stamp}\n{identity.user}\n{identity.client}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
