"""The outbox's rules, without I/O: which events must keep their order, and how long a row that
could not be published waits before the next try."""

from datetime import timedelta

from contracts import Event

# Events of one aggregate reach consumers in the order they were written: a member's
# registration before their confirmation, a business's PIN letter before its link. Events of
# different aggregates need no order, so one that cannot be published holds up only its own.
# A member's session revocations are an aggregate of their own: they go to another stream and
# other readers (the gateways), so no reader could see an order across the two anyway.
AGGREGATE_FIELDS = {"user.": "user_id", "session.": "user_id", "pin.": "betriebsnummer"}

# What someone waits for right now: an ended session everywhere (a logout, a password change),
# a password reset's mail, the initial password after a confirmation. In a backlog (a burst of
# registrations) the relay claims these before the rest; the order within an aggregate holds.
URGENT = frozenset({"session.revoke.v1", "user.password_reset_requested.v1", "user.confirmed.v1"})

FIRST_RETRY = timedelta(seconds=1)
# A row is retried at least this often however long it has failed: once the cause is fixed
# (a stream made, a permission granted), it goes out within a minute, at no cost meanwhile.
LONGEST_RETRY = timedelta(seconds=60)


def aggregate_key(event: Event) -> str:
    """The aggregate whose order the event belongs to, e.g. `user:<uuid>` or `pin:<Betriebsnummer>`."""
    for prefix, field in AGGREGATE_FIELDS.items():
        if event.SUBJECT.startswith(prefix):
            value = getattr(event, field, None)
            if value is not None:
                return f"{prefix.rstrip('.')}:{value}"
    return f"event:{event.event_id}"  # ordered after nothing: tests/unit/runtime checks every contract has a key


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed publish: 1 s, doubling, at most a minute."""
    return min(FIRST_RETRY * 2 ** min(max(attempts - 1, 0), 16), LONGEST_RETRY)
