"""Who reads what, and who may publish what: the durable consumers on JetStream and each
service's own subjects.

Data only. Ops create these durables (`python -m deploy.streams`); the services and the print
shop bind to them by these names, and deploy/nats/accounts.conf grants each user exactly its own
(tests/unit/test_streams.py holds the two together). Names follow polyn: `<reader>_<event>_v<N>`.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Redelivery:
    """When JetStream offers a message again that a service did not acknowledge, and how often.

    `backoff[i]` is how long the server waits for the answer to delivery i + 1 before it makes
    the next one (JetStream's consumer `backoff`; the first also stands for `ack_wait`). A
    handler that fails gives no answer, so the message comes back on this schedule. The handler
    is tried `len(backoff)` times; the last failure puts the message into the service's
    dead-letter table (runtime.deadletters). `max_deliver` allows one delivery more, made only
    when the last try was never answered (the process died or hung): that one is dead-lettered
    without trying again, so a message that kills its reader ends up in the table, not lost.
    """

    backoff: tuple[float, ...]  # seconds

    def __post_init__(self) -> None:
        if not self.backoff or min(self.backoff) <= 0:
            raise ValueError("a redelivery needs at least one positive backoff")

    @property
    def max_deliver(self) -> int:
        return len(self.backoff) + 1


# Short at first, so a message whose reader was killed or whose database blinked comes back in
# seconds; then long, so an outage of hours heals by itself: the 9th and last try comes about
# 7.4 hours after the first. A handler slower than the first step (5 s) gets its message a second
# time meanwhile, which its inbox makes harmless.
REDELIVERY = Redelivery((5, 15, 60, 300, 900, 3600, 2 * 3600, 4 * 3600, 8 * 3600))


@dataclass(frozen=True)
class Durable:
    name: str
    stream: str
    subject: str  # the consumer's filter: exactly one event
    service: str  # the reader, and its NATS user
    # None: no limit from the portal (the print shop keeps its own consumer settings and has no
    # dead-letter table; it terminates what it cannot read and retries what it cannot write).
    redelivery: Redelivery | None = REDELIVERY


def _durable(service: str, subject: str, stream: str, redelivery: Redelivery | None = REDELIVERY) -> Durable:
    return Durable(f"{service}_{subject.replace('.', '_')}", stream, subject, service, redelivery)


DURABLES: tuple[Durable, ...] = (
    _durable("accounts", "pin.linked.v1", "PORTAL_PINS"),
    _durable("accounts", "pin.unlinked.v1", "PORTAL_PINS"),
    _durable("pins", "user.confirmed.v1", "PORTAL_USERS"),
    _durable("pins", "user.deleted.v1", "PORTAL_USERS"),
    _durable("notifications", "user.registered.v1", "PORTAL_USERS"),
    _durable("notifications", "user.registration_repeated.v1", "PORTAL_USERS"),
    _durable("notifications", "user.confirmed.v1", "PORTAL_USERS"),
    _durable("notifications", "user.password_reset_requested.v1", "PORTAL_USERS"),
    _durable("notifications", "user.password_changed.v1", "PORTAL_USERS"),
    _durable("notifications", "pin.requested.v1", "PORTAL_PINS"),
    _durable("notifications", "pin.linked.v1", "PORTAL_PINS"),
    _durable("notifications", "pin.unlinked.v1", "PORTAL_PINS"),
    _durable("notifications", "user.deleted.v1", "PORTAL_USERS"),
    _durable("notifications", "user.changed_by_staff.v1", "PORTAL_USERS"),
    # the outside print shop; its NATS user is `printshop` as well
    _durable("printshop", "pin.requested.v1", "PORTAL_PINS", redelivery=None),
)

# The subjects each service publishes (DESIGN.md's events table, "from"); no one else may.
PUBLISHES: dict[str, tuple[str, ...]] = {
    "accounts": ("user.>", "session.>"),
    "pins": ("pin.>",),
}


def durable_for(service: str, subject: str) -> Durable:
    for durable in DURABLES:
        if (durable.service, durable.subject) == (service, subject):
            return durable
    raise LookupError(
        f"no durable for {service} on {subject}: add it to contracts/durables.py, "
        "grant it in deploy/nats/accounts.conf and run python -m deploy.streams"
    )


def durables_of(service: str) -> tuple[Durable, ...]:
    return tuple(d for d in DURABLES if d.service == service)


def inbox_prefix(user: str) -> str:
    """Each NATS user's own inbox: the answers to its requests and its pulled messages arrive
    there, and accounts.conf lets no other user subscribe to it."""
    return f"_INBOX.{user}"
