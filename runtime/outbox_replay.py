"""`python -m services.<name> outbox replay --since TIMESTAMP`: publish again what a lost stream needs.

A stream that lost events (made anew, restored from an older copy) lacks what was published
after some time. The outbox keeps published rows as long as the longest-lived stream keeps its
events (runtime.outbox.KEEP_PUBLISHED), so this command publishes them again, as the service's
own NATS user, one after the other in the order they were written. That is safe: JetStream
drops an event its stream still holds within the duplicate window (`Nats-Msg-Id`), and every
consumer records the event ids it handled (runtime.inbox), so what it handled before changes
nothing. It reads PORTAL_DATABASE_URL and the service's PORTAL_NATS_URL, _CA and _CREDS.
"""

import argparse
import asyncio
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts import EVENTS_BY_SUBJECT, STREAMS
from contracts.durables import PUBLISHES
from runtime import bus, db
from runtime.outbox import KEEP_PUBLISHED
from runtime.settings import load_settings

PAGE = 500
CONNECT_TIMEOUT = 30.0


class ReplaySettings(BaseSettings):
    """What the command reads: the database and the service's own NATS login, nothing else."""

    model_config = SettingsConfigDict(env_prefix="PORTAL_", extra="ignore", frozen=True)

    database_url: SecretStr = Field(description="Postgres DSN; the service uses its own schema.")
    nats_url: str = Field(description="Comma-separated NATS servers, with the service's user.")
    nats_creds: Path | None = None
    nats_ca: Path | None = None
    instance: str = "replay"  # the NATS client name: `<service>-replay`
    stream_replicas: int = 1

    @property
    def nats_servers(self) -> list[str]:
        return [s.strip() for s in self.nats_url.split(",") if s.strip()]


def timestamp(value: str) -> datetime:
    """ISO 8601; a time without an offset is UTC."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {value!r} (e.g. 2026-11-28T14:00+01:00)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def arguments(service: str):
    """The command's arguments for `service`: --stream offers the streams it publishes to."""
    streams = [name for name, spec in STREAMS.items() if set(spec["subjects"]) & set(PUBLISHES[service])]

    def add(parser: argparse.ArgumentParser) -> None:
        _add(parser, streams)

    return add


def _add(parser: argparse.ArgumentParser, streams: list[str]) -> None:
    actions = parser.add_subparsers(dest="outbox_action", metavar="ACTION", required=True)
    replay = actions.add_parser(
        "replay",
        help="publish again the events published since a time (a lost stream)",
        description=__doc__.split("\n\n")[1],
    )
    replay.add_argument(
        "--since", required=True, type=timestamp, metavar="TIMESTAMP", help="ISO 8601; without an offset, UTC"
    )
    replay.add_argument("--stream", choices=streams, help="only the events of this stream")


def wanted(subject: str, stream: str | None) -> bool:
    if stream is None:
        return True
    event = EVENTS_BY_SUBJECT.get(subject)
    return event is not None and event.STREAM == stream


async def run(args: argparse.Namespace, service: str, schema: str) -> int:
    settings = load_settings(ReplaySettings, service)
    try:
        conn = await asyncpg.connect(**await db.connect_args(settings.database_url.get_secret_value(), schema))
    except (OSError, asyncpg.PostgresError) as error:
        print(f"{service}: cannot reach the database ({type(error).__name__}); nothing published")
        return 1
    broker = bus.create_broker(settings, service)  # it reads the NATS fields alone
    try:
        kept_since = await conn.fetchval("select now() - $1::interval", KEEP_PUBLISHED)
        if args.since < kept_since:
            print(
                f"{service}: published rows are kept {KEEP_PUBLISHED.days} days;"
                f" what was published before {kept_since.isoformat()} cannot be sent again"
            )
        try:
            await asyncio.wait_for(broker.connect(), CONNECT_TIMEOUT)
        except Exception as error:  # nats-py has its own errors for refused, unknown and untrusted servers
            print(f"{service}: cannot reach NATS ({type(error).__name__}); nothing published")
            return 1
        return await _replay(conn, bus.publisher(broker), service, args.since, args.stream)
    finally:
        await broker.stop()
        await conn.close()


async def _replay(conn: asyncpg.Connection, publish, service: str, since: datetime, stream: str | None) -> int:
    sent = duplicates = 0
    last_id = 0
    while rows := await conn.fetch(
        "select id, event_id, subject, payload::text as payload from outbox"
        " where published_at >= $1 and id > $2 order by id limit $3",
        since,
        last_id,
        PAGE,
    ):
        for row in rows:
            last_id = row["id"]
            if not wanted(row["subject"], stream):
                continue
            try:
                duplicate = await publish(row["subject"], row["payload"].encode(), str(row["event_id"]))
            except Exception as error:
                print(
                    f"{service}: stopped after {sent} event(s) at event {row['event_id']} ({row['subject']}):"
                    f" {type(error).__name__} {error}; run it again (what is in the stream is dropped as a duplicate)"
                )
                return 1
            sent += 1
            duplicates += bool(duplicate)
    print(
        f"{service}: {sent} event(s) published since {since.isoformat()}"
        f"{f' to {stream}' if stream else ''}; {duplicates} of them the stream still had (dropped as duplicates)"
    )
    return 0
