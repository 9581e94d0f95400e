"""Random secrets, keyed hashes and sealed boxes.

Tokens, session ids and PINs are long and random, so an HMAC-SHA-256 keyed hash is enough to
store them (cheap to check, useless without the key). Secrets that travel in events are sealed
with a libsodium sealed box to the one party that must read them.
"""

import base64
import functools
import hashlib
import hmac
import secrets

from nacl.public import PrivateKey, PublicKey, SealedBox

# Generated passwords and PINs avoid look-alikes (l/I/1, O/0) — the FAQ's most common trap.
UNAMBIGUOUS_LOWER = "abcdefghijkmnpqrstuvwxyz"
UNAMBIGUOUS_UPPER = "ABCDEFGHJKLMNPQRSTUVWXYZ"
UNAMBIGUOUS_DIGITS = "23456789"
UNAMBIGUOUS = UNAMBIGUOUS_LOWER + UNAMBIGUOUS_UPPER + UNAMBIGUOUS_DIGITS


def random_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def random_string(length: int, alphabet: str = UNAMBIGUOUS) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def derive_key(master: bytes, purpose: str) -> bytes:
    """A separate key per use from one service's secret (sessions apart from links, say)."""
    return hmac.new(master, b"kundenportal/" + purpose.encode(), hashlib.sha256).digest()


def keyed_hash(key: bytes, value: str) -> bytes:
    return hmac.new(key, value.encode(), hashlib.sha256).digest()


def generate_keypair() -> tuple[str, str]:
    """(public, private), both base64 — the form of the PORTAL_*_KEY variables."""
    private = PrivateKey.generate()
    return _b64(bytes(private.public_key)), _b64(bytes(private))


def seal(public_key_b64: str, plaintext: str) -> str:
    return _b64(_box(public_key_b64, private=False).encrypt(plaintext.encode()))


def unseal(private_key_b64: str, sealed_b64: str) -> str:
    return _box(private_key_b64, private=True).decrypt(base64.b64decode(sealed_b64)).decode()


@functools.lru_cache(maxsize=8)
def _box(key_b64: str, *, private: bool) -> SealedBox:
    """A service seals to, or opens with, one or two keys all its life: a private key's box
    derives the public key (a Curve25519 multiplication, 17 us) once, not at every mail."""
    key = base64.b64decode(key_b64)
    return SealedBox(PrivateKey(key) if private else PublicKey(key))


def check_public_key(value: str) -> str:
    return check_key(value, "Curve25519 public key")


def check_key(value: str, kind: str) -> str:
    """A key variable: base64 of exactly the raw 32 bytes PyNaCl's key classes give."""
    if len(_decode(value)) != 32:
        raise ValueError(f"must be a base64 {kind} (32 bytes)")
    return value


def check_secret(value: str) -> str:
    """A secret variable: base64 of at least 32 random bytes (`generate_secret()` makes one)."""
    if len(_decode(value)) < 32:
        raise ValueError("must be base64 of at least 32 random bytes")
    return value


def secret_bytes(value: str) -> bytes:
    return base64.b64decode(value)


def generate_secret() -> str:
    return _b64(secrets.token_bytes(32))


def _decode(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise ValueError("must be base64") from None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
