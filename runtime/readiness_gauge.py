"""`/readyz` as a gauge: Prometheus cannot ask a pod's public port, and Kubernetes' readiness
probe asks only `/readyz?serving` (runtime.web.serving), so a service that lost NATS or a stream
stays in its load balancer unnoticed. Each check of the app's readiness runs every few seconds in
the background and sets portal_ready{check} to 1 or 0."""

import asyncio
from collections.abc import Awaitable, Callable

from runtime import metrics
from runtime.web import Check

INTERVAL_SECONDS = 5.0
CHECK_TIMEOUT = 2.0  # as /readyz


async def refresh(checks: list[Check]) -> None:
    for check in list(checks):
        try:
            await asyncio.wait_for(check(), CHECK_TIMEOUT)
            ready = 1
        except Exception:
            ready = 0
        metrics.READY.labels(getattr(check, "__name__", "check")).set(ready)


async def watch(
    checks: list[Check],
    *,
    interval: float = INTERVAL_SECONDS,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    while True:
        await refresh(checks)
        await sleep(interval)
