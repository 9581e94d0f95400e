"""What JetStream holds: the messages of a stream in their order, read back by sequence."""

import json
from dataclasses import dataclass

from nats.js.errors import NotFoundError


@dataclass(frozen=True)
class Published:
    seq: int
    subject: str
    event_id: str  # the Nats-Msg-Id header
    payload: dict


async def last_seq(nc, stream: str) -> int:
    return (await nc.jetstream().stream_info(stream)).state.last_seq


async def messages(nc, stream: str, after: int = 0, subject: str | None = None) -> list[Published]:
    """Every message of `stream` after sequence `after` (of `subject` only, if given)."""
    js = nc.jetstream(timeout=5)
    found = []
    for seq in range(after + 1, await last_seq(nc, stream) + 1):
        try:
            msg = await js.get_msg(stream, seq)
        except NotFoundError:
            continue
        if subject is None or msg.subject == subject:
            event_id = (msg.headers or {}).get("Nats-Msg-Id", "")
            found.append(Published(seq, msg.subject, event_id, json.loads(msg.data)))
    return found
