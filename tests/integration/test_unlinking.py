"""Unlinking, one use case for three callers — the member ("Verknüpfung lösen"), the chamber's
staff, the register import with --full — each ending the link, its access at once, and emitting
pin.unlinked.v1 exactly once; and the import's --dry-run and --max-delete."""

import contextlib
import secrets
import tempfile
from pathlib import Path
from uuid import UUID

import pytest

from runtime import service
from services.pins.register import MaxDelete, import_register
from tests.support.client import query
from tests.support.pins import (
    MANY_REQUESTS,
    bus_position,
    businesses,
    call,
    csv,
    linked,
    number,
    on_the_bus,
    pins_in_process,
    published_all,
    row,
    run_cli,
    staff,
)

pytestmark = pytest.mark.integration

UNLINKED = "pin.unlinked.v1"


@pytest.fixture
async def pins(postgres, nats_server):
    async with contextlib.AsyncExitStack() as stack:
        client = await stack.enter_async_context(pins_in_process(postgres, nats_server, **MANY_REQUESTS))
        client.nats_url = nats_server.url
        yield client


async def unlinked_events(client, after: int, user: str, n: str) -> list[dict]:
    await published_all(client)
    return await on_the_bus(client.nats_url, UNLINKED, after, user_id=user, betriebsnummer=n)


async def test_the_member_ends_their_own_link_and_loses_access_at_once(pins) -> None:
    n, other = number(), number()
    await businesses(pins, n, other)
    user = await linked(pins, n)
    start = await bus_position(pins.nats_url, UNLINKED)

    status, body, _ = await call(pins, "DELETE", f"/api/v1/pins/links/{n}", user=user)
    assert status == 204, body
    status, body, _ = await call(pins, "GET", "/api/v1/pins/businesses/mine", user=user)
    assert status == 403 and body["error"]["code"] == "not_linked"

    status, body, _ = await call(pins, "DELETE", f"/api/v1/pins/links/{n}", user=user)  # again: not linked
    assert status == 404 and body["error"]["code"] == "not_linked" and "nicht verknüpft" in body["error"]["message"]
    assert (await call(pins, "DELETE", f"/api/v1/pins/links/{other}", user=user))[0] == 404
    assert (await call(pins, "DELETE", "/api/v1/pins/links/kein-betrieb", user=user))[0] == 404
    assert (await call(pins, "DELETE", f"/api/v1/pins/links/{n}"))[0] == 401
    assert (await call(pins, "DELETE", "/api/v1/pins/links/%7Bbetriebsnummer%7D"))[0] == 401  # no 404 first

    [event] = await unlinked_events(pins, start, user, n)
    print(f"\nmember unlink: {len(await unlinked_events(pins, start, user, n))} pin.unlinked.v1 on the bus")
    assert event["unlinked_by"] == "member" and event["business_name"] == "Malerei Müller GmbH"
    assert event["business_email"] == "info@mueller.de"


async def test_a_session_older_than_the_link_cannot_unlink(pins) -> None:
    n = number()
    await businesses(pins, n)
    before = staff(pins, role="member")  # a member session started now …
    user = before.split(":")[0]
    pins.clock.advance(seconds=1)
    await linked(pins, n, user)  # … and a link made after it (from another session)
    status, body, _ = await call(pins, "DELETE", f"/api/v1/pins/links/{n}", user=before)
    assert status == 401 and body["error"]["code"] == "session_ended"
    assert await query(pins.dsn, "select 1 from pins.links where user_id = $1", UUID(user))


async def test_staff_end_a_link_with_an_audit_line(pins) -> None:
    n = number()
    await businesses(pins, n)
    user, colleague = await linked(pins, n), await linked(pins, n)
    officer = staff(pins)
    start = await bus_position(pins.nats_url, UNLINKED)
    path = f"/api/v1/pins/staff/businesses/{n}/links/{user}"

    for refused in (user, staff(pins, role="staff_pending"), ""):  # a member, staff before the second factor
        status, body, _ = await call(pins, "DELETE", path, user=refused)
        assert status in (401, 403), body
    assert await query(pins.dsn, "select 1 from pins.links where user_id = $1", UUID(user))

    status, body, _ = await call(pins, "DELETE", path, user=officer)
    assert status == 204, body
    assert (await call(pins, "GET", "/api/v1/pins/businesses/mine", user=user))[0] == 403
    assert (await call(pins, "GET", "/api/v1/pins/businesses/mine", user=colleague))[0] == 200
    status, body, _ = await call(pins, "DELETE", path, user=officer)
    assert status == 404 and body["error"]["code"] == "link_not_found"

    [event] = await unlinked_events(pins, start, user, n)
    assert event["unlinked_by"] == "staff"
    [line] = await query(pins.dsn, "select * from pins.staff_audit where action = 'link_ended'")
    assert (str(line["staff_user_id"]), str(line["user_id"]), line["betriebsnummer"]) == (
        officer.split(":")[0],
        user,
        n,
    )


async def test_the_full_import_ends_every_link_through_the_use_case(pins) -> None:
    kept, gone = number(), number()
    await businesses(pins, kept, gone)
    users = [await linked(pins, gone) for _ in range(3)]
    stays = await linked(pins, kept)
    start = await bus_position(pins.nats_url, UNLINKED)

    pool = pins.server.app[service.POOL]
    summary = await import_register(pool, csv(row(kept)), pins.clock(), full=True, max_delete=MaxDelete.parse("1"))
    assert (summary.deleted, summary.links_ended, summary.deleted_numbers) == (1, 3, [gone])

    for user in users:
        [event] = await unlinked_events(pins, start, user, gone)
        assert event["unlinked_by"] == "register_import" and event["business_email"] == "info@mueller.de"
        assert (await call(pins, "GET", "/api/v1/pins/businesses/mine", user=user))[0] == 403
    assert not await unlinked_events(pins, start, stays, kept)
    assert (await call(pins, "GET", "/api/v1/pins/businesses/mine", user=stays))[0] == 200


async def test_dry_run_and_max_delete_apply_nothing_and_force_applies(pins) -> None:
    numbers = [number() for _ in range(4)]
    await businesses(pins, *numbers)
    users = [await linked(pins, numbers[0]), await linked(pins, numbers[1])]
    env = {"PORTAL_DATABASE_URL": pins.dsn}
    path = Path(tempfile.gettempdir()) / f"betriebe-{secrets.token_hex(4)}.csv"

    async def active() -> int:
        return (await query(pins.dsn, "select count(*) as n from pins.businesses where deleted_at is null"))[0]["n"]

    async def links() -> int:
        return (await query(pins.dsn, "select count(*) as n from pins.links"))[0]["n"]

    async def outbox() -> int:
        return (await query(pins.dsn, "select count(*) as n from pins.outbox where subject = $1", UNLINKED))[0]["n"]

    try:
        path.write_bytes(csv(row(numbers[2], "Neuer Name"), row(numbers[3])))  # two of four gone, one renamed
        done = run_cli("import-businesses", str(path), "--full", "--dry-run", "--force", **env)
        assert done.returncode == 0, done.stderr
        assert "dry run, nothing applied" in done.stdout and "Gelöscht / deleted:         2" in done.stdout
        assert "links ended: 2" in done.stdout and "Geändert / updated:         1" in done.stdout
        assert f"Würden gelöscht / would be deleted: {', '.join(sorted(numbers[:2]))}" in done.stdout
        assert (await active(), await links(), await outbox()) == (4, 2, 0)
        assert not await query(pins.dsn, "select 1 from pins.businesses where name = 'Neuer Name'")

        done = run_cli("import-businesses", str(path), "--full", **env)  # 5 % of 4 is 0
        assert done.returncode == 1 and "Nichts importiert" in done.stderr and "Nothing imported" in done.stderr
        assert "2 von 4" in done.stderr and "--max-delete 5 %" in done.stderr and numbers[0] in done.stderr
        done = run_cli("import-businesses", str(path), "--full", "--max-delete", "1", **env)
        assert done.returncode == 1 and "erlaubt sind 1" in done.stderr
        done = run_cli("import-businesses", str(path), "--full", "--max-delete", "49%", **env)
        assert done.returncode == 1 and "erlaubt sind 1" in done.stderr
        assert (await active(), await links(), await outbox()) == (4, 2, 0)

        done = run_cli("import-businesses", str(path), "--full", "--max-delete", "50%", **env)
        assert done.returncode == 0, done.stderr
        assert "Gelöscht / deleted:         2" in done.stdout and "links ended: 2" in done.stdout
        assert (await active(), await links(), await outbox()) == (2, 0, 2)
        for user in users:
            assert (await call(pins, "GET", "/api/v1/pins/businesses/mine", user=user))[0] == 403

        path.write_bytes(csv(row(numbers[3])))
        done = run_cli("import-businesses", str(path), "--full", "--force", **env)
        assert done.returncode == 0 and "Gelöscht / deleted:         1" in done.stdout, done.stderr
    finally:
        path.unlink(missing_ok=True)
