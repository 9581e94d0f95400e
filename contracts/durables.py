"""Who reads what, and who may publish what: the durable consumers on JetStream and each
service's own subjects.

Data only. Ops create these durables (`python -m deploy.streams`); the services and the print
shop bind to them by these names, and deploy/nats/accounts.conf grants each user exactly its own
(tests/unit/test_streams.py holds the two together). Names follow polyn: `<reader>_<event>_v<N>`.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Durable:
    name: str
    stream: str
    subject: str  # the consumer's filter: exactly one event
    service: str  # the reader, and its NATS user


def _durable(service: str, subject: str, stream: str) -> Durable:
    return Durable(f"{service}_{subject.replace('.', '_')}", stream, subject, service)


DURABLES: tuple[Durable, ...] = (
    _durable("accounts", "pin.linked.v1", "PORTAL_PINS"),
    _durable("pins", "user.confirmed.v1", "PORTAL_USERS"),
    _durable("notifications", "user.registered.v1", "PORTAL_USERS"),
    _durable("notifications", "user.registration_repeated.v1", "PORTAL_USERS"),
    _durable("notifications", "user.confirmed.v1", "PORTAL_USERS"),
    _durable("notifications", "user.password_reset_requested.v1", "PORTAL_USERS"),
    _durable("notifications", "user.password_changed.v1", "PORTAL_USERS"),
    _durable("notifications", "pin.requested.v1", "PORTAL_PINS"),
    _durable("notifications", "pin.linked.v1", "PORTAL_PINS"),
    # the outside print shop; its NATS user is `printshop` as well
    _durable("printshop", "pin.requested.v1", "PORTAL_PINS"),
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
