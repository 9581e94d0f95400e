"""`python -m deploy.streams`: create or update the portal's JetStream streams and durables.

Ops run this, not the services (their NATS users may not manage JetStream). Every stream of
`contracts.STREAMS` is kept on file storage with its max age, a 10-minute duplicate window and
`deny_delete` / `deny_purge` (no message of the record can be removed through the API, by anyone);
every durable of `contracts.durables.DURABLES` is a pull consumer with explicit acks on exactly
its event, with the contract's redelivery (`max_deliver`, `backoff`: runtime.deadletters takes
over where they end) and room for many unacknowledged messages, so one that fails and waits for
its next delivery never holds up those behind it. Idempotent: a second run changes nothing. An
existing stream's replicas are raised to `--replicas`, never lowered; a consumer without any
redelivery limit (made before there were dead letters) gets the contract's; what an operator
tuned beyond that (limits, placement, a consumer's backoff or ack_wait) is left as it is. What
cannot be changed in place (storage, ack policy) is reported, not destroyed.
"""

import argparse
import asyncio
import logging
import os
import ssl
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import nats
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from contracts import STREAMS
from contracts.durables import DURABLES, Durable, inbox_prefix

DUPLICATE_WINDOW = timedelta(minutes=10)
ACK_WAIT_SECONDS = 30.0  # a handler that commits slower than this gets its message twice (harmless)
# Messages delivered and not yet answered, per durable: a failed one waits for its next delivery
# (hours, late in its backoff) while the others pass it; only this many at once stop the durable.
MAX_ACK_PENDING = 1000


class StreamsError(RuntimeError):
    """Something only a person can settle (a stream or consumer that cannot be changed in place)."""


@dataclass(frozen=True)
class Change:
    what: str  # "stream PORTAL_PINS", "consumer PORTAL_PINS/printshop_pin_requested_v1"
    action: str  # "created" or "updated"
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.what} {self.action}" + (f": {self.detail}" if self.detail else "")


# --- what it should be (no I/O) ---------------------------------------------------------


def stream_config(name: str, replicas: int) -> StreamConfig:
    spec = STREAMS[name]
    return StreamConfig(
        name=name,
        subjects=list(spec["subjects"]),
        storage=StorageType.FILE,
        max_age=timedelta(days=spec["max_age_days"]).total_seconds(),
        duplicate_window=DUPLICATE_WINDOW.total_seconds(),
        deny_delete=True,
        deny_purge=True,
        num_replicas=replicas,
    )


def stream_differences(existing: StreamConfig, desired: StreamConfig) -> dict[str, object]:
    """The fields to set on `existing` so it holds what `desired` requires."""
    if _value(existing.storage) != _value(desired.storage):
        raise StreamsError(
            f"stream {desired.name} is on {_value(existing.storage)} storage, not "
            f"{_value(desired.storage)}: JetStream cannot change that in place"
        )
    changes: dict[str, object] = {}
    if sorted(existing.subjects or []) != sorted(desired.subjects):
        changes["subjects"] = desired.subjects
    for field in ("max_age", "duplicate_window"):
        if abs((getattr(existing, field) or 0) - getattr(desired, field)) > 0.001:
            changes[field] = getattr(desired, field)
    for field in ("deny_delete", "deny_purge"):
        if not getattr(existing, field):
            changes[field] = True
    if (existing.num_replicas or 1) < desired.num_replicas:
        changes["num_replicas"] = desired.num_replicas
    return changes


def consumer_config(durable: Durable) -> ConsumerConfig:
    return ConsumerConfig(
        name=durable.name,
        durable_name=durable.name,
        description=f"{durable.service} reads {durable.subject}",
        filter_subject=durable.subject,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        max_ack_pending=MAX_ACK_PENDING,
        **redelivery_config(durable),
    )


def redelivery_config(durable: Durable) -> dict[str, object]:
    """JetStream takes the first backoff as the ack_wait; it is said here as well, so what is
    asked for is what the server reports."""
    if durable.redelivery is None:
        return {"ack_wait": ACK_WAIT_SECONDS, "max_deliver": -1, "backoff": None}
    backoff = [float(seconds) for seconds in durable.redelivery.backoff]
    return {"ack_wait": backoff[0], "max_deliver": durable.redelivery.max_deliver, "backoff": backoff}


def consumer_differences(existing: ConsumerConfig, durable: Durable) -> dict[str, object]:
    where = f"consumer {durable.stream}/{durable.name}"
    if existing.deliver_subject:
        raise StreamsError(f"{where} is a push consumer; the services pull: delete it and run again")
    if _value(existing.ack_policy) != _value(AckPolicy.EXPLICIT):
        raise StreamsError(f"{where} does not ack explicitly; JetStream cannot change that in place")
    changes: dict[str, object] = {}
    filters = existing.filter_subjects or ([existing.filter_subject] if existing.filter_subject else [])
    if filters != [durable.subject]:
        changes.update(filter_subject=durable.subject, filter_subjects=None)
    unlimited = (existing.max_deliver or -1) <= 0 and not existing.backoff
    if durable.redelivery is not None and unlimited:
        changes.update(redelivery_config(durable))
    return changes


def _value(enum_or_str) -> str:
    return getattr(enum_or_str, "value", enum_or_str)


# --- making it so ------------------------------------------------------------------------


async def ensure(js: JetStreamContext, replicas: int = 1, durables: Iterable[Durable] = DURABLES) -> list[Change]:
    """Create or update every stream and durable; returns what changed (nothing the 2nd time)."""
    if replicas < 1:
        raise ValueError("replicas must be at least 1")
    changes: list[Change] = []
    for name in STREAMS:
        changes += await _ensure_stream(js, stream_config(name, replicas))
    for durable in durables:
        changes += await _ensure_consumer(js, durable)
    return changes


async def _ensure_stream(js: JetStreamContext, desired: StreamConfig) -> list[Change]:
    what = f"stream {desired.name}"
    try:
        existing = (await js.stream_info(desired.name)).config
    except NotFoundError:
        await js.add_stream(desired)
        return [Change(what, "created", f"replicas {desired.num_replicas}")]
    differences = stream_differences(existing, desired)
    if not differences:
        return []
    metadata = {k: v for k, v in (existing.metadata or {}).items() if not k.startswith("_nats.")}
    await js.update_stream(existing.evolve(**differences, metadata=metadata or None))
    return [Change(what, "updated", ", ".join(f"{k} {v}" for k, v in differences.items()))]


async def _ensure_consumer(js: JetStreamContext, durable: Durable) -> list[Change]:
    what = f"consumer {durable.stream}/{durable.name}"
    try:
        existing = (await js.consumer_info(durable.stream, durable.name)).config
    except NotFoundError:
        config = consumer_config(durable)
        await js.add_consumer(durable.stream, config)
        detail = f"filter {durable.subject}" + (f", max_deliver {config.max_deliver}" if durable.redelivery else "")
        return [Change(what, "created", detail)]
    differences = consumer_differences(existing, durable)
    if not differences:
        return []
    await js.add_consumer(durable.stream, existing.evolve(**differences))
    return [Change(what, "updated", ", ".join(_describe(k, v) for k, v in differences.items() if v is not None))]


def _describe(field: str, value: object) -> str:
    if field == "backoff":
        return "backoff " + "/".join(f"{seconds:g}s" for seconds in value)  # type: ignore[attr-defined]
    return f"{field.removesuffix('_subject')} {value}"


async def run(
    servers: list[str],
    *,
    replicas: int = 1,
    user: str | None = None,
    password: str | None = None,
    creds: Path | None = None,
    ca: Path | None = None,
    timeout: float = 10.0,
) -> list[Change]:
    """Connect (as ops), ensure everything, disconnect."""
    # the answers come to ops' own inbox, the only one its user may subscribe to
    options: dict = {
        "servers": servers,
        "name": "deploy.streams",
        "allow_reconnect": False,
        "connect_timeout": timeout,
        "inbox_prefix": inbox_prefix(user or "ops"),
    }
    if user:
        options.update(user=user, password=password or "")
    if creds:
        options["user_credentials"] = str(creds)
    if ca or any(s.startswith("tls://") for s in servers):
        options["tls"] = ssl.create_default_context(cafile=str(ca) if ca else None)
    connection = await nats.connect(**options)
    try:
        return await ensure(connection.jetstream(timeout=timeout), replicas)
    finally:
        await connection.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ
    parser = argparse.ArgumentParser(
        prog="python -m deploy.streams",
        description="Create or update the portal's JetStream streams (deny-delete, deny-purge) and "
        "durable consumers from contracts/. Safe to run again: only what differs changes.",
    )
    parser.add_argument(
        "--replicas", type=int, default=1, help="replicas of every stream (1; 3 on the 3-node cluster); never lowered"
    )
    parser.add_argument(
        "--server",
        action="append",
        dest="servers",
        metavar="URL",
        help="a NATS server, repeatable (default $NATS_URL, comma-separated, or nats://127.0.0.1:4222); tls:// for TLS",
    )
    parser.add_argument(
        "--user",
        default=env.get("NATS_USER"),
        help="NATS user, ops in deploy/nats/accounts.conf (default $NATS_USER); its inbox is _INBOX.<user>",
    )
    parser.add_argument(
        "--password",
        default=env.get("NATS_PASSWORD"),
        help="its password (default $NATS_PASSWORD, which keeps it out of `ps`)",
    )
    parser.add_argument(
        "--creds", type=Path, default=env.get("NATS_CREDS"), help="a credentials file instead (default $NATS_CREDS)"
    )
    parser.add_argument(
        "--ca",
        type=Path,
        default=env.get("NATS_CA"),
        help="CA file of a private CA for tls:// servers (default $NATS_CA)",
    )
    args = parser.parse_args(argv)
    if not args.servers:
        args.servers = [s.strip() for s in env.get("NATS_URL", "nats://127.0.0.1:4222").split(",") if s.strip()]
    if args.replicas < 1:
        parser.error("--replicas must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # asyncio's "returning true from eof_received() has no effect when using ssl" at every TLS
    # close says nothing to an operator
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    try:
        changes = asyncio.run(
            run(
                args.servers,
                replicas=args.replicas,
                user=args.user,
                password=args.password,
                creds=args.creds,
                ca=args.ca,
            )
        )
    except StreamsError as error:
        print(f"deploy.streams: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # no connection, refused, …: say what, never the password
        print(f"deploy.streams: failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    for change in changes:
        print(change)
    print(
        f"{len(STREAMS)} streams and {len(DURABLES)} durable consumers in place"
        + ("" if changes else ", nothing changed")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
