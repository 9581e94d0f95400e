"""Handling pin.requested.v1 without NATS: one letter per request id, bad messages rejected."""

import io
import json
import uuid
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader

from contracts import PinRequestedV1, PostalAddress
from deploy.printshop.settings import ConfigError, Settings
from deploy.printshop.shop import Outcome, PrintShop, load_private_key, write_once
from deploy.printshop.web import render_index
from runtime.crypto import generate_keypair, seal

PUBLIC, PRIVATE = generate_keypair()


def event(pin: str = "ABCDEFGH", public_key: str = PUBLIC, **changes) -> bytes:
    values = dict(
        request_id=uuid.uuid4(),
        reason="user_request",
        betriebsnummer="4711081",
        business_name="Bäckerei Größe",
        address=PostalAddress(street="Hauptstraße 1", postal_code="65183", city="Wiesbaden"),
        pin=seal(public_key, pin),
        valid_until=date(2026, 3, 31),
    )
    values.update(changes)
    return PinRequestedV1(**values).model_dump_json().encode()


@pytest.fixture
def shop(tmp_path: Path) -> PrintShop:
    shop = PrintShop(load_private_key(PRIVATE), tmp_path / "letters", today=lambda: date(2025, 11, 26))
    shop.prepare()
    return shop


def pdf_text(path: Path) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(path.read_bytes())).pages)


def test_prints_the_letter_named_after_the_request(shop: PrintShop):
    data = event()
    request_id = json.loads(data)["request_id"]
    result = shop.handle(data)
    assert result.outcome is Outcome.PRINTED
    assert result.path == shop.output_dir / f"{request_id}.pdf"
    assert "ABCD-EFGH" in pdf_text(result.path)
    assert result.path.stat().st_mode & 0o777 == 0o600  # the letter carries a PIN
    assert not list(shop.output_dir.glob(".*.tmp"))
    meta = json.loads((shop.output_dir / f"{request_id}.json").read_text())
    assert meta["business_name"] == "Bäckerei Größe" and "ABCDEFGH" not in json.dumps(meta)


def test_the_same_request_again_prints_nothing(shop: PrintShop):
    data = event()
    first = shop.handle(data)
    before = first.path.stat()
    again = shop.handle(data)
    assert again.outcome is Outcome.DUPLICATE and again.path == first.path
    after = first.path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert len(list(shop.output_dir.glob("*.pdf"))) == 1


def test_a_new_event_for_the_same_request_id_prints_nothing(shop: PrintShop):
    request_id = uuid.uuid4()
    assert shop.handle(event(request_id=request_id)).outcome is Outcome.PRINTED
    # a republished event (new event_id) for the same request: still one letter
    assert shop.handle(event(request_id=request_id, pin="ZZZZZZZZ")).outcome is Outcome.DUPLICATE
    assert len(list(shop.output_dir.glob("*.pdf"))) == 1
    assert "ABCD-EFGH" in pdf_text(shop.letter_path(str(request_id)))


@pytest.mark.parametrize("data", [b"not json", b"{}", json.dumps({"request_id": "x"}).encode(), b"\xff\xfe", b""])
def test_malformed_messages_are_rejected(shop: PrintShop, data: bytes):
    result = shop.handle(data)
    assert result.outcome is Outcome.REJECTED and result.reason
    assert not list(shop.output_dir.iterdir())


def test_a_pin_sealed_to_another_key_is_rejected(shop: PrintShop):
    other_public, _ = generate_keypair()
    result = shop.handle(event(public_key=other_public))
    assert result.outcome is Outcome.REJECTED and "unsealed" in result.reason
    assert not list(shop.output_dir.glob("*.pdf"))


def test_a_pin_that_is_not_a_sealed_box_is_rejected(shop: PrintShop):
    data = json.loads(event())
    data["pin"] = "A" * 60  # valid base64, not a sealed box
    assert shop.handle(json.dumps(data).encode()).outcome is Outcome.REJECTED


def test_write_once_never_replaces(tmp_path: Path):
    target = tmp_path / "x.pdf"
    assert write_once(target, b"first") is True
    assert write_once(target, b"second") is False
    assert target.read_bytes() == b"first"
    assert [p.name for p in tmp_path.iterdir()] == ["x.pdf"]


def test_prepare_removes_leftovers_of_a_crash(tmp_path: Path):
    folder = tmp_path / "letters"
    folder.mkdir()
    (folder / ".abc.pdf.123.tmp").write_bytes(b"half")
    PrintShop(load_private_key(PRIVATE), folder).prepare()
    assert not list(folder.iterdir())
    assert folder.stat().st_mode & 0o777 == 0o700


def test_settings_from_env(tmp_path: Path):
    key_file = tmp_path / "printshop.key"
    key_file.write_text(PRIVATE + "\n")
    settings = Settings.from_env(
        {
            "PRINTSHOP_NATS_URL": "nats://a:4222, nats://b:4222",
            "PRINTSHOP_OUTPUT_DIR": str(tmp_path),
            "PRINTSHOP_PRIVATE_KEY_FILE": str(key_file),
            "PRINTSHOP_NATS_USER": "printshop",
            "PRINTSHOP_NATS_PASSWORD": "secret",
            "PRINTSHOP_HTTP_PORT": "8026",
            "PRINTSHOP_ACK_WAIT_SECONDS": "1.5",
        }
    )
    assert settings.nats_servers == ["nats://a:4222", "nats://b:4222"]
    assert settings.private_key == PRIVATE and settings.http_port == 8026
    assert settings.ack_wait_seconds == 1.5 and settings.nats_user == "printshop"
    assert not settings.crash_before_ack
    with pytest.raises(ConfigError, match="PRINTSHOP_PRIVATE_KEY"):
        Settings.from_env({"PRINTSHOP_NATS_URL": "nats://a", "PRINTSHOP_OUTPUT_DIR": "/tmp"})
    with pytest.raises(ValueError):
        load_private_key("not a key")


def test_the_page_lists_letters(shop: PrintShop):
    assert "Noch keine Briefe gedruckt." in render_index(shop.output_dir)
    result = shop.handle(event(business_name="<Meister & Co>"))
    page = render_index(shop.output_dir)
    assert "Briefe der Druckerei" in page and f'href="briefe/{result.path.name}"' in page
    assert "&lt;Meister &amp; Co&gt;" in page and "ABCD" not in page


def test_the_print_shop_knows_only_the_contract():
    import subprocess
    import sys

    code = (
        "import sys, deploy.printshop.__main__, deploy.printshop.consumer, deploy.printshop.web; "
        "print(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in "
        "('services', 'runtime', 'contracts', 'deploy')}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[3],
    ).stdout
    assert out.strip() == "['contracts', 'deploy']"
