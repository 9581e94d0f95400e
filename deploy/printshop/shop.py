"""Handling one `pin.requested.v1` message: parse, unseal, render, write once.

Free of NATS, so the unit tests drive it directly. The outcome tells the consumer loop what to
do with the message: PRINTED and DUPLICATE are acked, REJECTED is terminated (it can never
succeed, so it must not loop), and an OSError (disk full, no permission) propagates: the loop
naks it with a delay and it comes back.

A letter is printed once per request id: the file is `<request_id>.pdf`, and it only appears
complete (written to a temporary file, fsynced, then hard-linked into place, which fails if the
name exists — so two replicas racing on a redelivery cannot both print, and nothing is
overwritten). A request whose file exists is acked without printing again.
"""

import base64
import binascii
import contextlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from zoneinfo import ZoneInfo

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, SealedBox
from pydantic import ValidationError

from contracts import PinRequestedV1
from deploy.printshop.letter import Letter, render_letter

log = logging.getLogger("printshop")
BERLIN = ZoneInfo("Europe/Berlin")


class Outcome(Enum):
    PRINTED = "printed"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    request_id: str | None = None
    reason: str | None = None  # why it was rejected
    path: Path | None = None


def load_private_key(value: str) -> PrivateKey:
    raw = base64.b64decode(value.strip(), validate=True)
    if len(raw) != 32:
        raise ValueError("the print shop's private key must be 32 bytes, base64")
    return PrivateKey(raw)


def berlin_today() -> date:
    return datetime.now(BERLIN).date()


class PrintShop:
    def __init__(
        self,
        private_key: PrivateKey,
        output_dir: Path,
        *,
        portal_url: str | None = None,
        today: Callable[[], date] = berlin_today,
    ) -> None:
        self.box = SealedBox(private_key)
        self.output_dir = Path(output_dir)
        self.portal_url = portal_url
        self.today = today

    def prepare(self) -> None:
        """Create the output folder (0700: letters carry PINs) and drop leftovers of a crash."""
        self.output_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            self.output_dir.chmod(0o700)
        for stale in self.output_dir.glob(".*.tmp"):
            stale.unlink(missing_ok=True)

    def letter_path(self, request_id: str) -> Path:
        return self.output_dir / f"{request_id}.pdf"

    def handle(self, data: bytes) -> Result:
        try:
            event = PinRequestedV1.model_validate_json(data)
        except ValidationError as error:
            return Result(
                Outcome.REJECTED, reason=f"not a PinRequestedV1: {error.error_count()} errors ({_first_error(error)})"
            )
        request_id = str(event.request_id)
        target = self.letter_path(request_id)
        if target.exists():
            return Result(Outcome.DUPLICATE, request_id, path=target)
        try:
            pin = self.box.decrypt(base64.b64decode(event.pin, validate=True)).decode()
        except (CryptoError, binascii.Error, ValueError, UnicodeDecodeError):
            return Result(Outcome.REJECTED, request_id, reason="the PIN cannot be unsealed with the print shop's key")
        letter = Letter(
            request_id=request_id,
            reason=event.reason,
            betriebsnummer=event.betriebsnummer,
            business_name=event.business_name,
            street=event.address.street,
            postal_code=event.address.postal_code,
            city=event.address.city,
            country=event.address.country,
            pin=pin,
            valid_until=event.valid_until,
            letter_date=self.today(),
            portal_url=self.portal_url,
        )
        try:
            pdf = render_letter(letter)
        except Exception as error:  # a letter that cannot be laid out will not be next time either
            log.exception("rendering failed", extra={"request_id": request_id})
            return Result(Outcome.REJECTED, request_id, reason=f"rendering failed: {error!r}")
        self._write_meta(event)
        if not write_once(target, pdf):
            return Result(Outcome.DUPLICATE, request_id, path=target)
        return Result(Outcome.PRINTED, request_id, path=target)

    def _write_meta(self, event: PinRequestedV1) -> None:
        """What the web page lists beside the PDF (no PIN); best effort, rewritten freely."""
        meta = {
            "request_id": str(event.request_id),
            "reason": event.reason,
            "betriebsnummer": event.betriebsnummer,
            "business_name": event.business_name,
            "city": event.address.city,
            "valid_until": event.valid_until.isoformat(),
            "printed_at": datetime.now(BERLIN).isoformat(timespec="seconds"),
        }
        path = self.output_dir / f"{event.request_id}.json"
        with contextlib.suppress(OSError):
            _atomic_write(path, json.dumps(meta, ensure_ascii=False).encode())


def write_once(target: Path, data: bytes) -> bool:
    """Write `data` to `target` durably, only if `target` does not exist; False if it did."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    _write_synced(tmp, data)
    try:
        os.link(tmp, target)  # atomic, and never replaces an existing letter
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(target.parent)
    return True


def _atomic_write(target: Path, data: bytes) -> None:
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    _write_synced(tmp, data)
    os.replace(tmp, target)
    _fsync_dir(target.parent)


def _write_synced(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ())) or "payload"
    return f"{where}: {first.get('msg', '')}"
