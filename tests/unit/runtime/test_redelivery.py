"""The rules of giving a message up, and the contract's redelivery data they read."""

import pytest

from contracts.durables import DURABLES, REDELIVERY, Redelivery
from runtime import redelivery


@pytest.mark.parametrize(
    ("max_deliver", "tries"),
    [(-1, None), (0, None), (1, 1), (2, 1), (4, 3), (REDELIVERY.max_deliver, len(REDELIVERY.backoff))],
)
def test_the_handler_is_tried_on_every_delivery_but_the_spare_last(max_deliver, tries) -> None:
    assert redelivery.tries(max_deliver) == tries


def test_a_failure_is_given_up_on_the_last_try_and_the_spare_delivery_is_not_tried() -> None:
    assert [redelivery.give_up(n, 4) for n in (1, 2, 3, 4)] == [False, False, True, True]
    assert [redelivery.unanswered(n, 4) for n in (1, 2, 3, 4)] == [False, False, False, True]
    assert not redelivery.give_up(1000, -1) and not redelivery.unanswered(1000, -1)
    assert redelivery.give_up(1, 1) and not redelivery.unanswered(1, 1)  # a single delivery: no spare


def test_the_contracts_redelivery_tries_for_hours_and_leaves_one_spare_delivery() -> None:
    assert REDELIVERY.max_deliver == len(REDELIVERY.backoff) + 1  # JetStream wants max_deliver > backoffs
    assert REDELIVERY.backoff[0] <= 5  # a message whose reader was killed comes back in seconds
    last_try_after = sum(REDELIVERY.backoff[: redelivery.tries(REDELIVERY.max_deliver) - 1])
    assert 6 * 3600 < last_try_after < 9 * 3600  # a night's outage heals by itself
    assert list(REDELIVERY.backoff) == sorted(REDELIVERY.backoff)
    services = [d for d in DURABLES if d.service != "printshop"]
    assert all(d.redelivery == REDELIVERY for d in services)
    assert [d.redelivery for d in DURABLES if d.service == "printshop"] == [None]  # keeps its own
    with pytest.raises(ValueError):
        Redelivery(())
    with pytest.raises(ValueError):
        Redelivery((5, 0))


def test_reasons_are_short_and_name_the_failure() -> None:
    assert redelivery.failed(3, KeyError("x")) == "handler failed on delivery 3: KeyError: 'x'"
    long = redelivery.failed(1, RuntimeError("x" * 5000))
    assert len(long) == redelivery.MAX_REASON and long.endswith("…")
    assert redelivery.never_answered(10).startswith("delivery 9 was never answered")
    assert redelivery.retry_failed(ValueError("nein")) == "retry by an operator failed: ValueError: nein"
