"""An erasure and the dead letters, on a real Postgres: what a service gave up on about the person
loses its payload and reason and is closed; the erasure's own message and other people's stay."""

import json
import secrets
from uuid import uuid4

import pytest

from runtime import db, deadletters
from services.notifications.app import MIGRATIONS, SCHEMA

pytestmark = pytest.mark.integration


async def test_only_the_erased_persons_dead_letters_are_emptied_and_closed(postgres) -> None:
    pool = await db.create_pool(await postgres.create_database(f"forget_{secrets.token_hex(4)}"), SCHEMA, MIGRATIONS)
    erased, other, erasure = uuid4(), uuid4(), uuid4()
    letters = [  # (subject, event id, payload, state)
        ("user.registered.v1", uuid4(), {"user_id": str(erased), "email": "erika@example.de"}, "open"),
        ("user.confirmed.v1", uuid4(), {"user_id": str(erased)}, "retried"),
        ("user.deleted.v1", erasure, {"user_id": str(erased)}, "open"),  # the erasure being retried
        ("user.registered.v1", uuid4(), {"user_id": str(other), "email": "max@example.de"}, "open"),
    ]
    try:
        for sequence, (subject, event_id, payload, state) in enumerate(letters, 1):
            await pool.execute(
                "insert into dead_letters (consumer, stream, subject, sequence, published_at, event_id, payload,"
                " reason, deliveries, state, resolved_at) values ('test', 'USERS', $1, $2, now(), $3, $4,"
                " 'Key (email)=(erika@example.de)', 5, $5, case when $5 = 'open' then null else now() end)",
                subject,
                sequence,
                event_id,
                json.dumps(payload).encode(),
                state,
            )
        async with pool.acquire() as conn:
            forgotten = await deadletters.forget_person(conn, erased, erasure)
        rows = await pool.fetch("select state, payload, reason, resolved_at from dead_letters order by sequence")
    finally:
        await pool.close()
    assert forgotten == 2
    emptied = [(r["state"], r["payload"], r["reason"]) for r in rows[:2]]
    gone = "erased with the person it was about"
    assert emptied == [("dropped", b"", gone), ("retried", b"", gone)]  # a closed one keeps its state
    assert all(r["resolved_at"] is not None for r in rows[:2])
    assert [(r["state"], json.loads(r["payload"])["user_id"]) for r in rows[2:]] == [
        ("open", str(erased)),
        ("open", str(other)),
    ]
