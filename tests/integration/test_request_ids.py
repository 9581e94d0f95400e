"""One request id, followed: the gateway gives it (or keeps a trusted proxy's), accounts logs
it and writes it with the event, the event carries it as a NATS header, notifications' consumer
and its mail worker log it — down to the "mail sent" line. A client's own id, or an unsafe one,
never reaches a log.

One portal: PORTAL_TRUSTED_PROXIES names 127.0.0.2 alone, so the test's "proxy" connects from
127.0.0.2 and its "browser" from 127.0.0.1."""

import asyncio
import json
import secrets
import time
from pathlib import Path

import aiohttp
import pytest

from tests.support.client import new_email, query
from tests.support.members import PERSON
from tests.support.wait import until

pytestmark = pytest.mark.integration

PROXY, BROWSER = "127.0.0.2", "127.0.0.1"
SERVICES = ("gateway", "accounts", "notifications")
REGISTRATIONS = "/api/v1/accounts/registrations"


def log_lines(log_dir: Path, service: str) -> list[dict]:
    lines = []
    for text in (log_dir / f"{service}.log").read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            lines.append(json.loads(text))
        except ValueError:
            continue  # a line the interpreter wrote itself, not the service's logging
    return lines


def with_id(log_dir: Path, service: str, request_id: str) -> list[dict]:
    return [line for line in log_lines(log_dir, service) if line.get("request_id") == request_id]


async def register(portal, source: str, request_id: str | None = None) -> tuple[str, str]:
    """Register through the gateway from `source`; (the answer's X-Request-Id, the e-mail)."""
    email = new_email("rid")
    headers = {"Origin": portal.gateway_url}
    if request_id is not None:
        headers["X-Request-Id"] = request_id
    connector = aiohttp.TCPConnector(local_addr=(source, 0))
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.post(portal.gateway_url + REGISTRATIONS, json={**PERSON, "email": email}, headers=headers) as answer,
    ):
        assert answer.status == 202, await answer.text()
        return answer.headers["X-Request-Id"], email


async def followed(portal, request_id: str) -> dict[str, list[dict]]:
    """Every service's lines with the id, once notifications logged the mail as sent."""

    async def mail_sent() -> bool:
        return any(line["msg"] == "mail sent" for line in with_id(portal.log_dir, "notifications", request_id))

    await until(mail_sent, f"notifications logs 'mail sent' for {request_id}", timeout=30)
    return {service: with_id(portal.log_dir, service, request_id) for service in SERVICES}


def access_line(lines: list[dict]) -> dict:
    (line,) = [line for line in lines if line.get("logger") == "portal.access"]
    return line


@pytest.fixture(scope="module")
async def portal(postgres, mail, tmp_path_factory):
    from tests.support.portal import start_portal

    started = await start_portal(
        postgres=postgres,
        mail=mail,
        log_dir=tmp_path_factory.mktemp("request-ids"),
        env={"gateway": {"PORTAL_TRUSTED_PROXIES": f"{PROXY}/32"}},
    )
    yield started
    await started.stop()


async def test_a_trusted_proxys_id_is_followed_from_the_gateway_to_the_mail(portal) -> None:
    started = time.perf_counter()
    chosen = f"ingress-{secrets.token_hex(8)}"
    answered, email = await register(portal, PROXY, chosen)
    assert answered == chosen
    found = await followed(portal, chosen)
    mail = await portal.mail.wait_for(lambda m: m.to == email, timeout=30)
    print(f"id {chosen}: lines per service { ({s: len(v) for s, v in found.items()}) }", end=" ")
    print(f"followed to the mail in {time.perf_counter() - started:.2f} s")
    gateway, accounts = access_line(found["gateway"]), access_line(found["accounts"])
    assert (gateway["method"], gateway["path"], gateway["status"]) == ("POST", REGISTRATIONS, 202)
    assert (accounts["path"], accounts["status"]) == (REGISTRATIONS, 202)
    assert gateway["client"] == accounts["client"] == PROXY  # no X-Forwarded-For: the proxy is the client
    assert all("duration_ms" in line for line in (gateway, accounts))
    handled = [line for line in found["notifications"] if line["msg"] == "event handled"]
    assert [line["subject"] for line in handled] == ["user.registered.v1"]
    # that one line per event, with its outcome: FastStream's own per message stay at debug
    assert not [line for line in log_lines(portal.log_dir, "notifications") if line["msg"] in ("Received", "Processed")]
    sent = [line for line in found["notifications"] if line["msg"] == "mail sent"]
    assert len(sent) == 1 and sent[0]["kind"]
    # and stored with what it caused: accounts' outbox row and notifications' mail
    (row,) = await query(
        portal.database_url, "select request_id from accounts.outbox where payload->>'email' = $1", email
    )
    assert row["request_id"] == chosen
    (stored,) = await query(
        portal.database_url, "select request_id from notifications.mails where recipient = $1", email
    )
    assert stored["request_id"] == chosen
    assert mail.to == email


async def test_without_an_id_the_gateways_own_is_followed_and_a_clients_is_ignored(portal) -> None:
    planted = f"planted-{secrets.token_hex(8)}"
    answered, _ = await register(portal, BROWSER, planted)
    assert answered != planted
    found = await followed(portal, answered)
    assert all(found[service] for service in SERVICES)
    assert access_line(found["gateway"])["client"] == BROWSER
    for service in SERVICES:
        assert planted not in (portal.log_dir / f"{service}.log").read_text(), service


async def test_a_malicious_id_never_reaches_a_log(portal) -> None:
    marker = secrets.token_hex(8)
    injected = f'{marker}"}}\n{{"level": "error", "msg": "forged'
    # 10 KB: over aiohttp's header limit (a 400 before any handler); 4 KB: through, and replaced
    for bad in (f"{marker}-" + "x" * 10_000, f"{marker}-" + "y" * 4_000, f'{marker}"}},{{"forged": 1'):
        async with (
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(PROXY, 0))) as session,
            session.get(portal.gateway_url + "/healthz", headers={"X-Request-Id": bad}) as answer,
        ):
            assert answer.status in (200, 400)
            assert marker not in answer.headers.get("X-Request-Id", "")
    # a raw newline and an obsolete line fold, which no well-behaved client would send
    for raw in (injected.encode(), f"{marker}\r\n folded".encode()):
        reader, writer = await asyncio.open_connection(
            portal.gateway_url.split("//")[1].split(":")[0],
            int(portal.gateway_url.rsplit(":", 1)[1]),
            local_addr=(PROXY, 0),
        )
        writer.write(
            b"GET /healthz HTTP/1.1\r\nHost: portal\r\nConnection: close\r\nX-Request-Id: " + raw + b"\r\n\r\n"
        )
        await writer.drain()
        status = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        assert marker.encode() not in status.partition(b"\r\n\r\n")[0]
    # the gateway logged an access line for what it answered: none of them names the marker
    await until(lambda: _has_access(portal, "/healthz"), "the gateway's access lines for /healthz", timeout=10)
    assert marker not in (portal.log_dir / "gateway.log").read_text()


async def _has_access(portal, path: str) -> bool:
    return any(line.get("path") == path for line in log_lines(portal.log_dir, "gateway"))
