"""Signing as the gateway does, for tests that call a service directly, and checking what the
gateway signed, for tests of the gateway."""

import json
from typing import Any

from yarl import URL

from runtime.identity import Identity, Signer, Verifier, generate_signing_keypair

PUBLIC_KEY, PRIVATE_KEY = generate_signing_keypair()
SIGNER = Signer(PRIVATE_KEY)


def signed(
    method: str,
    path: str,
    body: Any = None,
    *,
    user: str = "",
    client: str = "192.0.2.7",
    signer: Signer = SIGNER,
    raw: bytes | None = None,
) -> dict[str, Any]:
    """Keyword arguments for `session.request(method, url, **signed(...))`: the JSON body (or
    `raw` bytes as they are) and the identity headers over exactly that request."""
    data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    headers = signer.headers(Identity(user, client), method, URL(path).raw_path_qs, data)
    if data:
        headers["Content-Type"] = "application/json"
    return {"data": data or None, "headers": headers}


def verified(call, public_key: str = PUBLIC_KEY) -> Identity | None:
    """The identity a recorded upstream call (method, path_qs, headers, body) carried, if valid."""
    return Verifier(public_key).verify(call.headers, call.method, call.path_qs, call.body)
