"""Accounts under attack and under load, in this process on the real Postgres and NATS: throttles
that hold when wrong passwords arrive all at once, a busy address that spares the members behind
it, 503 instead of 500 when the hashing pool is full, a pending registration nobody else can
rewrite, and control characters refused before anything is stored."""

import asyncio
import secrets
from dataclasses import dataclass

import aiohttp
import pytest
from prometheus_client import REGISTRY

from runtime.crypto import unseal
from runtime.sessions import RESOLVE_PATH
from services.accounts import throttle
from tests.support.client import new_email, query
from tests.support.identity import signed
from tests.support.inprocess import _json, accounts_in_process, active_member, call

pytestmark = pytest.mark.integration

REGISTER = "/api/v1/accounts/registrations"
CONFIRM = "/api/v1/accounts/registrations/confirm"
LOGIN = "/api/v1/accounts/sessions"
CHANGE = "/api/v1/accounts/password"
FORGOT = "/api/v1/accounts/password/forgot"
RESET = "/api/v1/accounts/password/reset"
WRONG = "falsch-falsch-falsch"
NEW_PASSWORD = "Dachrinne im Herbst reinigen"
WRONG_CURRENT = {"current_password": "Das aktuelle Passwort ist nicht korrekt."}
OFFICE = "198.51.100.20"  # one address for a whole office (NAT): the attacker and the members
PERSON = {"first_name": "Erika", "last_name": "Mustermann", "birth_date": "1979-05-04"}
STRANGER = {"first_name": "Mallory", "last_name": "Fremd", "birth_date": "1990-01-01"}


@dataclass
class Answer:
    status: int
    body: dict | None
    headers: dict[str, str]
    cookies: dict[str, str]


async def send(
    accounts,
    method: str,
    path: str,
    body=None,
    *,
    address: str = "192.0.2.7",
    device: str | None = None,
    user: str = "",
) -> Answer:
    """As the gateway forwards it from `address`; no cookie but the device cookie, when given."""
    request = signed(method, path, body, user=user, client=address)
    if device:
        request["headers"]["Cookie"] = f"kp_device={device}"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        async with session.request(method, accounts.make_url(path), **request) as response:
            data = await response.json() if response.content_type == "application/json" else None
            cookies = {name: morsel.value for name, morsel in response.cookies.items()}
            return Answer(response.status, data, dict(response.headers), cookies)


def login(email: str, password: str) -> dict:
    return {"email": email, "password": password}


def hashes_run(*operations: str) -> float:
    return sum(
        REGISTRY.get_sample_value("accounts_password_hashes_total", {"operation": operation}) or 0
        for operation in operations or ("hash", "verify")
    )


def throttled(answer: Answer) -> bool:
    retry = answer.headers.get("Retry-After", "")
    return (
        answer.status == 429
        and answer.body["error"]["code"] == "login_throttled"
        and retry.isdigit()
        and int(retry) > 0
    )


async def failures(accounts, email: str) -> int:
    rows = await query(accounts.dsn, "select count(*) from accounts.login_failures where account_key = $1", email)
    return rows[0][0]


async def session_user(accounts, token: str) -> str:
    status, body = await call(accounts, "POST", RESOLVE_PATH, {"token": token})
    assert status == 200
    return f"{body['user_id']}:{body['session_id']}:{body['started_at_ms']}"


async def sealed_tokens(accounts, subject: str, field: str, email: str) -> list[str]:
    """The tokens of the links sent to `email` in `subject` events, oldest first."""
    rows = await query(
        accounts.dsn,
        "select payload from accounts.outbox where subject = $1 and payload->>'email' = $2 order by id",
        subject,
        email,
    )
    return [unseal(accounts.private_key, _json(r["payload"])[field]).split("token=")[1] for r in rows]


async def reset_token(accounts, email: str) -> str:
    assert (await call(accounts, "POST", FORGOT, {"email": email}))[0] == 202
    return (await sealed_tokens(accounts, "user.password_reset_requested.v1", "reset_link", email))[-1]


@pytest.fixture
async def accounts(postgres, nats_server):
    async for client in accounts_in_process(postgres, nats_server):
        yield client


# --- throttles that hold under concurrency ------------------------------------------------------


async def test_a_hundred_parallel_wrong_logins_check_only_the_allowance(accounts) -> None:
    email, password = await active_member(accounts)
    before = hashes_run()
    answers = await asyncio.gather(*(send(accounts, "POST", LOGIN, login(email, WRONG)) for _ in range(100)))
    checked = [a for a in answers if a.status == 401]
    assert len(checked) == throttle.ACCOUNT_LIMIT
    assert all(throttled(a) for a in answers if a.status != 401), {a.status for a in answers}
    assert hashes_run() - before == len(checked)  # a refused attempt costs no hash
    assert await failures(accounts, email) == throttle.ACCOUNT_LIMIT
    assert throttled(await send(accounts, "POST", LOGIN, login(email, password)))


async def test_logins_to_an_address_without_an_account_are_reserved_and_throttled_alike(accounts) -> None:
    nobody = f"niemand-{secrets.token_hex(4)}@example.de"
    verified, hashed = hashes_run("verify"), hashes_run("hash")
    answers = await asyncio.gather(*(send(accounts, "POST", LOGIN, login(nobody, WRONG)) for _ in range(40)))
    checked = [a for a in answers if a.status == 401]
    assert len(checked) == throttle.ACCOUNT_LIMIT  # the same allowance as a real account's
    assert all(throttled(a) for a in answers if a.status != 401), {a.status for a in answers}
    assert hashes_run("verify") - verified == len(checked)  # each checked one did a login's work
    assert hashes_run("hash") - hashed <= 1  # against one stand-in hash, made once, not once each
    assert await failures(accounts, nobody) == throttle.ACCOUNT_LIMIT


async def test_a_hundred_parallel_wrong_current_passwords_check_only_the_allowance(accounts) -> None:
    email, password = await active_member(accounts)
    signed_in = await send(accounts, "POST", LOGIN, login(email, password))
    user = await session_user(accounts, signed_in.cookies["kp_session"])
    change = {"current_password": WRONG, "new_password": NEW_PASSWORD}
    before = hashes_run()
    answers = await asyncio.gather(*(send(accounts, "POST", CHANGE, change, user=user) for _ in range(100)))
    checked = [a for a in answers if a.status == 422]
    assert len(checked) == throttle.ACCOUNT_LIMIT
    assert all(a.body["error"]["fields"] == WRONG_CURRENT for a in checked)
    assert all(throttled(a) for a in answers if a.status != 422), {a.status for a in answers}
    assert hashes_run() - before == len(checked)
    rows = await query(accounts.dsn, "select password_changed_at from accounts.users where email_key = $1", email)
    assert rows[0][0] is None


async def test_a_hundred_failures_a_day_stop_untrusted_logins_but_not_the_owner(accounts) -> None:
    email, password = await active_member(accounts)
    device = (await send(accounts, "POST", LOGIN, login(email, password))).cookies["kp_device"]
    burst = throttle.ACCOUNT_LIMIT
    for _ in range(throttle.DAILY_LIMIT // burst):  # as fast as the five-minute window allows
        answers = await asyncio.gather(*(send(accounts, "POST", LOGIN, login(email, WRONG)) for _ in range(burst)))
        assert [a.status for a in answers] == [401] * burst
        accounts.clock.advance(minutes=5, seconds=1)
    stranger = await send(accounts, "POST", LOGIN, login(email, password))
    assert throttled(stranger)
    assert int(stranger.headers["Retry-After"]) > 20 * 3600  # until the oldest failure is a day old
    # a browser another account trusts is a stranger to this one
    other_email, other_password = await active_member(accounts)
    elsewhere = (await send(accounts, "POST", LOGIN, login(other_email, other_password))).cookies["kp_device"]
    assert throttled(await send(accounts, "POST", LOGIN, login(email, password), device=elsewhere))
    assert (await send(accounts, "POST", LOGIN, login(email, password), device=device)).status == 201
    accounts.clock.advance(hours=2)
    assert throttled(await send(accounts, "POST", LOGIN, login(email, password)))
    # "Passwort vergessen" is never blocked, and the reset clears the failures.
    reset = {"token": await reset_token(accounts, email), "new_password": NEW_PASSWORD}
    assert (await send(accounts, "POST", RESET, reset)).status == 204
    assert (await send(accounts, "POST", LOGIN, login(email, NEW_PASSWORD))).status == 201


# --- one address, many people -------------------------------------------------------------------


async def test_an_attacker_spraying_from_an_office_does_not_refuse_its_members(accounts) -> None:
    member_email, member_password = await active_member(accounts)
    hit_email, hit_password = await active_member(accounts)  # an account the attacker tries once
    trusted = await send(accounts, "POST", LOGIN, login(hit_email, hit_password), address="203.0.113.9")
    sprayed = [hit_email] + [new_email("spray") for _ in range(2 * throttle.CLIENT_LIMIT)]
    for email in sprayed:
        assert (await send(accounts, "POST", LOGIN, login(email, WRONG), address=OFFICE)).status == 401
    # The address is busy now: the attacker's second guess at an account it already tried waits ...
    assert throttled(await send(accounts, "POST", LOGIN, login(sprayed[3], WRONG), address=OFFICE))
    # ... while a member behind the same address, whose account was not under attack, logs in,
    member = await send(accounts, "POST", LOGIN, login(member_email, member_password), address=OFFICE)
    assert member.status == 201
    # and so does one whose account was, from the browser the account trusts.
    owner = await send(
        accounts, "POST", LOGIN, login(hit_email, hit_password), address=OFFICE, device=trusted.cookies["kp_device"]
    )
    assert owner.status == 201
    # Without that cookie the attacker and the owner look the same: wait until the address calms.
    stranger = await send(accounts, "POST", LOGIN, login(hit_email, hit_password), address=OFFICE)
    assert throttled(stranger) and int(stranger.headers["Retry-After"]) <= 61


# --- a right password whose session could not be written -----------------------------------------


async def test_a_right_password_whose_session_was_not_written_counts_as_no_failure(accounts) -> None:
    """The login's reservation goes with its session in one statement; when that statement fails
    (here a trigger stands for a timeout or a lost connection), the reservation must go anyway:
    the password was right, and a member retrying through an outage must not lock themselves out."""
    email, password = await active_member(accounts)
    await query(
        accounts.dsn,
        "create function accounts.refuse_sessions() returns trigger language plpgsql as"
        " $$ begin raise exception 'no session now'; end $$",
    )
    await query(
        accounts.dsn,
        "create trigger refuse before insert on accounts.sessions for each row execute function accounts.refuse_sessions()",
    )
    for _ in range(3):
        assert (await send(accounts, "POST", LOGIN, login(email, password))).status >= 500
    row = await user_row(accounts, email)
    assert (row["sessions"], row["failures"]) == (0, 0)
    await query(accounts.dsn, "drop trigger refuse on accounts.sessions")
    assert (await send(accounts, "POST", LOGIN, login(email, password))).status == 201


# --- a full hashing pool ------------------------------------------------------------------------


@pytest.fixture
async def small_pool(postgres, nats_server):
    async for client in accounts_in_process(postgres, nats_server, hash_workers=1, hash_max_pending=1):
        yield client


async def registered(accounts) -> tuple[str, str]:
    email = new_email("pool")
    assert (await call(accounts, "POST", REGISTER, {**PERSON, "email": email}))[0] == 202
    return email, (await sealed_tokens(accounts, "user.registered.v1", "confirmation_link", email))[-1]


async def user_row(accounts, email: str):
    rows = await query(
        accounts.dsn,
        "select id, state, password_hash,"
        " (select count(*) from accounts.sessions s where s.user_id = u.id) as sessions,"
        " (select count(*) from accounts.login_failures f where f.account_key = u.email_key) as failures,"
        " (select count(*) from accounts.password_resets r where r.user_id = u.id and r.used_at is not null)"
        "  as used_resets"
        " from accounts.users u where email_key = $1",
        email,
    )
    return rows[0]


async def test_a_full_hashing_pool_answers_503_with_retry_after_and_stores_nothing(small_pool) -> None:
    accounts, n = small_pool, 6
    to_confirm = [await registered(accounts) for _ in range(n)]
    to_login = [await active_member(accounts) for _ in range(n)]
    to_change = []
    for _ in range(n):
        email, password = await active_member(accounts)
        token = (await send(accounts, "POST", LOGIN, login(email, password))).cookies["kp_session"]
        to_change.append((email, password, await session_user(accounts, token)))
    to_reset = []
    for _ in range(n):
        email, _ = await active_member(accounts)
        to_reset.append((email, await reset_token(accounts, email)))
    emails = [email for email, *_ in [*to_confirm, *to_login, *to_change, *to_reset]]
    before = {email: await user_row(accounts, email) for email in emails}

    new = {"new_password": NEW_PASSWORD}
    requests = (
        [("confirm", email, CONFIRM, {"token": token}, "") for email, token in to_confirm]
        + [("login", email, LOGIN, login(email, password), "") for email, password in to_login]
        + [
            ("change", email, CHANGE, {"current_password": password, **new}, user)
            for email, password, user in to_change
        ]
        + [("reset", email, RESET, {"token": token, **new}, "") for email, token in to_reset]
    )
    answers = await asyncio.gather(
        *(send(accounts, "POST", path, body, user=user) for _, _, path, body, user in requests)
    )

    done = {"confirm": 200, "login": 201, "change": 204, "reset": 204}
    busy = []
    for (kind, email, path, body, user), answer in zip(requests, answers, strict=True):
        if answer.status == 503:
            assert answer.body["error"]["code"] == "busy" and "ausgelastet" in answer.body["error"]["message"]
            assert answer.headers.get("Retry-After", "").isdigit(), kind
            busy.append((kind, email, path, body, user))
        else:
            assert answer.status == done[kind], (kind, answer.status, answer.body)
    assert busy, "the pool never filled: the test proves nothing"
    for kind, email, *_ in busy:  # nothing half-stored: each refused request left its account as it was
        now, then = await user_row(accounts, email), before[email]
        keep = ("state", "password_hash", "sessions", "used_resets")
        assert [now[k] for k in keep] == [then[k] for k in keep] and now["failures"] == 0, kind
        confirmed = await query(
            accounts.dsn,
            "select 1 from accounts.outbox where subject = 'user.confirmed.v1' and payload->>'user_id' = $1",
            str(now["id"]),
        )
        assert not confirmed or kind != "confirm"
    for kind, _email, path, body, user in busy:  # and the same request, repeated, goes through
        assert (await send(accounts, "POST", path, body, user=user)).status == done[kind], kind


# --- a pending registration belongs to whoever reads the mail -----------------------------------


async def confirmation_tokens(accounts, email: str) -> list[str]:
    return await sealed_tokens(accounts, "user.registered.v1", "confirmation_link", email)


async def person_of(accounts, email: str) -> dict:
    rows = await query(
        accounts.dsn,
        "select first_name, last_name, birth_date::text as born, state from accounts.users where email_key = $1",
        email,
    )
    return dict(rows[0])


ERIKA = {"first_name": "Erika", "last_name": "Mustermann", "born": "1979-05-04", "state": "active"}


async def test_a_stranger_registering_the_same_pending_address_changes_nothing_its_owner_confirms(accounts) -> None:
    email = new_email("owner")
    owner = await send(accounts, "POST", REGISTER, {**PERSON, "email": email})
    stranger = await send(accounts, "POST", REGISTER, {**STRANGER, "email": email}, address="203.0.113.66")
    assert (owner.status, owner.body) == (stranger.status, stranger.body) == (202, owner.body)  # nothing to tell
    owners_link, _strangers_link = await confirmation_tokens(accounts, email)
    assert (await send(accounts, "POST", CONFIRM, {"token": owners_link})).status == 200
    assert await person_of(accounts, email) == ERIKA
    rows = await query(
        accounts.dsn,
        "select payload->>'first_name', payload->>'last_name' from accounts.outbox"
        " where subject = 'user.confirmed.v1' and payload->>'email' = $1",
        email,
    )
    assert [tuple(r) for r in rows] == [("Erika", "Mustermann")]


async def test_an_owner_who_registers_after_a_stranger_confirms_what_they_entered(accounts) -> None:
    email = new_email("squat")
    assert (await send(accounts, "POST", REGISTER, {**STRANGER, "email": email})).status == 202
    assert (await send(accounts, "POST", REGISTER, {**PERSON, "email": email})).status == 202
    _strangers_link, owners_link = await confirmation_tokens(accounts, email)
    assert (await send(accounts, "POST", CONFIRM, {"token": owners_link})).status == 200
    assert await person_of(accounts, email) == ERIKA


async def test_sending_the_mail_again_carries_what_was_entered_last(accounts) -> None:
    """A typo corrected by registering again: "E-Mail erneut senden" keeps the correction."""
    email = new_email("typo")
    assert (await send(accounts, "POST", REGISTER, {**PERSON, "last_name": "Musterman", "email": email})).status == 202
    assert (await send(accounts, "POST", REGISTER, {**PERSON, "email": email})).status == 202
    assert (await send(accounts, "POST", f"{REGISTER}/resend", {"email": email})).status == 202
    *_, resent = await confirmation_tokens(accounts, email)
    assert (await send(accounts, "POST", CONFIRM, {"token": resent})).status == 200
    assert await person_of(accounts, email) == ERIKA


# --- control characters -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("first_name", "Er\x00ika"),
        ("last_name", "Muster\nmann"),
        ("email", "erika\n@example.de"),
        ("birth_date", "1979-05-04\x00"),
    ],
)
async def test_control_characters_in_a_registration_are_refused_and_nothing_is_stored(accounts, field, value) -> None:
    email = new_email("nul")
    answer = await send(accounts, "POST", REGISTER, {**PERSON, "email": email, field: value})
    assert 400 <= answer.status < 500 and answer.body["error"]["message"].startswith("Bitte")
    addresses = [email, value] if field == "email" else [email]  # Postgres refuses even to compare a NUL
    assert not await query(accounts.dsn, "select 1 from accounts.users where email = any($1::text[])", addresses)
    assert not await query(
        accounts.dsn, "select 1 from accounts.outbox where payload->>'email' = any($1::text[])", addresses
    )


async def test_a_control_character_in_a_login_is_refused_before_any_hash(accounts) -> None:
    email, password = await active_member(accounts)
    before = hashes_run()
    for body in (login(email, password + "\x00"), login(email + "\x00", password), login(f"\n{email}\x1b", password)):
        answer = await send(accounts, "POST", LOGIN, body)
        assert 400 <= answer.status < 500 and answer.body["error"]["message"].startswith("Bitte"), answer.body
    assert hashes_run() == before and await failures(accounts, email) == 0
    assert (await send(accounts, "POST", LOGIN, login(email, password))).status == 201
