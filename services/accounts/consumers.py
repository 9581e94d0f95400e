"""The events accounts reads: pin.linked.v1, for the memberships (durable
`accounts_pin_linked_v1` through runtime.consumers)."""

from functools import partial

import asyncpg

from contracts import PinLinkedV1
from runtime.consumers import Handlers
from services.accounts import memberships


def handlers(pool: asyncpg.Pool) -> Handlers:
    return {PinLinkedV1.SUBJECT: partial(memberships.on_linked, pool)}
