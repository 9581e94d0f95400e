"""/readyz's checks as portal_ready{check}: 1 while a check passes, 0 while it fails or hangs."""

import asyncio

from runtime import metrics, readiness_gauge


def ready(check: str) -> float:
    return metrics.READY.labels(check)._value.get()


async def test_each_check_sets_its_own_gauge_and_a_failure_or_a_hang_is_not_ready(monkeypatch) -> None:
    monkeypatch.setattr(readiness_gauge, "CHECK_TIMEOUT", 0.05)
    broken = False

    async def database() -> None:
        if broken:
            raise ConnectionError("postgres away")

    async def messaging() -> None:
        await asyncio.Event().wait()  # never answers

    await readiness_gauge.refresh([database, messaging])
    assert (ready("database"), ready("messaging")) == (1, 0)
    broken = True
    await readiness_gauge.refresh([database, messaging])
    assert ready("database") == 0
