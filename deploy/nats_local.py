"""NATS on one machine the way production runs it: users from deploy/nats/accounts.conf, TLS for
clients and routes, monitoring on loopback.

The local runner and the test portals use this, so development runs the production permissions.
A private CA (made here with `cryptography`) signs one server certificate for localhost and
127.0.0.1; the clients trust that CA alone (`PORTAL_NATS_CA`). Passwords are random per user and
reach nats-server through its environment only, as in production (accounts.conf reads
`$NATS_<USER>_PASSWORD`).
"""

import datetime
import ipaddress
import json
import os
import secrets
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

ACCOUNTS_CONF = Path(__file__).resolve().parent / "nats" / "accounts.conf"
# every user of accounts.conf, plus `route` for the cluster routes (cluster.conf)
USERS = ("accounts", "pins", "notifications", "gateway", "printshop", "ops", "sys", "route")
CA_DAYS = 3650
SERVER_DAYS = 365
RENEW_BEFORE = datetime.timedelta(days=30)


@dataclass(frozen=True)
class NatsPasswords:
    """One random password per NATS user."""

    passwords: dict[str, str]

    @classmethod
    def generate(cls) -> "NatsPasswords":
        # nats-server parses a variable's value as config: a password that looks like a number or
        # a date ("2024-…", "12e3…") would not be a string, hence a letter first and hex after
        return cls({user: "pw" + secrets.token_hex(24) for user in USERS})

    @classmethod
    def load_or_create(cls, path: Path) -> "NatsPasswords":
        """Kept between runs of the local runner (0600); a user new to USERS gains a password."""
        fresh = cls.generate().passwords
        kept = json.loads(path.read_text()) if path.exists() else {}
        merged = cls({user: kept.get(user, fresh[user]) for user in USERS})
        if set(kept) != set(USERS):
            write_private(path, json.dumps(merged.passwords, indent=2) + "\n")
        return merged

    def __getitem__(self, user: str) -> str:
        return self.passwords[user]

    def server_env(self) -> dict[str, str]:
        """What nats-server needs in its environment to read accounts.conf and the route user."""
        return {f"NATS_{user.upper()}_PASSWORD": password for user, password in self.passwords.items()}

    def __repr__(self) -> str:  # never print a password by accident
        return f"NatsPasswords(users={sorted(self.passwords)})"


@dataclass(frozen=True)
class LocalTls:
    """A private CA and a server certificate it signed (PEM files in `folder`)."""

    folder: Path

    @property
    def ca_file(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def cert_file(self) -> Path:
        return self.folder / "server.pem"

    @property
    def key_file(self) -> Path:
        return self.folder / "server-key.pem"

    @classmethod
    def load_or_create(cls, folder: Path) -> "LocalTls":
        """The files in `folder` if they are there and not about to expire, else new ones."""
        tls = cls(Path(folder))
        if not tls._still_valid():
            tls._create()
        return tls

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def _still_valid(self) -> bool:
        from cryptography import x509

        if not all(p.exists() for p in (self.ca_file, self.cert_file, self.key_file)):
            return False
        cert = x509.load_pem_x509_certificate(self.cert_file.read_bytes())
        return cert.not_valid_after_utc - _now() > RENEW_BEFORE

    def _create(self) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        now = _now()
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Kundenportal local NATS CA")])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        server = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=SERVER_DAYS))
            .add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.DNSName("localhost"),
                        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                        x509.IPAddress(ipaddress.ip_address("::1")),
                    ]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            # clientAuth too: a node presents the same certificate when it opens a route
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        self.folder.mkdir(parents=True, exist_ok=True)
        # the CA's key is not kept: nothing else is ever signed with it
        write_private(
            self.key_file,
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ).decode(),
        )
        self.cert_file.write_bytes(server.public_bytes(serialization.Encoding.PEM))
        self.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))


def with_user(url: str, user: str, password: str) -> str:
    """`tls://host:port` -> `tls://user:password@host:port` (what PORTAL_NATS_URL carries)."""
    parts = urlsplit(url)
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{parts.hostname}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def write_private(path: Path, text: str) -> None:
    """A file only its owner may read (0600): keys, passwords."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(text)
    path.chmod(0o600)
