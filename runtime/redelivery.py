"""When a consumer gives a message up: pure rules over JetStream's delivery count.

A durable's `max_deliver` (contracts.durables.Redelivery, or what ops tuned on the server) says
how often JetStream offers a message. The handler is tried on every delivery but the last; a
failure gives no answer, so the server offers it again after its backoff, and the failure of the
last try dead-letters it. The last delivery comes only when the try before it was never answered
(the process died or hung in it): that message is dead-lettered without another try, because a
message that kills its reader would otherwise be dropped by the server with nobody the wiser.
"""

from enum import StrEnum

from pydantic import ValidationError

MAX_REASON = 1000  # characters of a reason kept; an exception's text can be long
MAX_PROBLEMS = 5


class Kind(StrEnum):
    """Why a message was dead-lettered; a metric label, so a short fixed set."""

    UNREADABLE = "unreadable"  # does not parse against its contract
    FAILED = "failed"  # the handler failed on every try
    UNANSWERED = "unanswered"  # the last try never answered: not tried again


def tries(max_deliver: int) -> int | None:
    """How many deliveries the handler is tried on; None: as many as come (no limit set)."""
    if max_deliver <= 0:
        return None
    return max(max_deliver - 1, 1)


def unanswered(delivered: int, max_deliver: int) -> bool:
    """Before handling: the tries are used up, so the one before this delivery never answered."""
    limit = tries(max_deliver)
    return limit is not None and delivered > limit


def give_up(delivered: int, max_deliver: int) -> bool:
    """After a failure: this was the last try."""
    limit = tries(max_deliver)
    return limit is not None and delivered >= limit


def unreadable(subject: str, error: ValidationError) -> str:
    """Where the payload misses the contract, never what it holds (pydantic keeps the input
    values apart from its messages; they stay out of here)."""
    problems = error.errors(include_url=False, include_input=False, include_context=False)
    if any(p["type"] == "json_invalid" for p in problems):
        return f"unreadable as {subject}: not JSON"
    listed = [f"{'.'.join(str(part) for part in p['loc']) or '(root)'}: {p['msg']}" for p in problems[:MAX_PROBLEMS]]
    if len(problems) > MAX_PROBLEMS:
        listed.append(f"and {len(problems) - MAX_PROBLEMS} more")
    return _cut(f"unreadable as {subject}: " + "; ".join(listed))


def failed(delivered: int, error: BaseException) -> str:
    return _cut(f"handler failed on delivery {delivered}: {type(error).__name__}: {error}")


def retry_failed(error: BaseException) -> str:
    return _cut(f"retry by an operator failed: {type(error).__name__}: {error}")


def never_answered(delivered: int) -> str:
    return f"delivery {delivered - 1} was never answered (the process died or hung in the handler); not tried again"


def _cut(text: str) -> str:
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"
