"""The events accounts reads: pin.linked.v1 and pin.unlinked.v1, for the memberships (durables
`accounts_pin_linked_v1`, `accounts_pin_unlinked_v1` through runtime.consumers)."""

from functools import partial

import asyncpg

from contracts import PinLinkedV1, PinUnlinkedV1
from runtime.consumers import Handlers
from services.accounts import memberships


def handlers(pool: asyncpg.Pool) -> Handlers:
    return {
        PinLinkedV1.SUBJECT: partial(memberships.on_linked, pool),
        PinUnlinkedV1.SUBJECT: partial(memberships.on_unlinked, pool),
    }
