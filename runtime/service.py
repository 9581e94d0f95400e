"""Running a service: resources as aiohttp cleanup contexts, SIGTERM drains, one `main()`.

Nothing connects at import time; `create_app(settings)` only declares, and the contexts below
open the pool, the broker and the background tasks when the app starts.
"""

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import asyncpg
from aiohttp import web
from faststream.nats import NatsBroker

from runtime import bus, db, jetstream_gauges, readiness_gauge
from runtime.logs import setup_logging
from runtime.outbox import OutboxRelay
from runtime.settings import ServiceSettings, load_settings
from runtime.web import READINESS, create_metrics_app, serving

log = logging.getLogger(__name__)

POOL = web.AppKey("pool", asyncpg.Pool)
BROKER = web.AppKey("broker", NatsBroker)

S = TypeVar("S", bound=ServiceSettings)


def postgres(dsn: str, schema: str, migrations: Path | None, *, max_size: int = 10):
    async def context(app: web.Application) -> AsyncIterator[None]:
        pool = await _retry(lambda: db.create_pool(dsn, schema, migrations, max_size=max_size), "postgres")

        async def database() -> None:
            async with pool.acquire(timeout=2) as conn:
                await conn.fetchval("select 1")

        app[POOL] = pool
        app[READINESS].append(serving(database))
        yield
        await pool.close()

    return context


def nats(broker: NatsBroker, *, required_for_readiness: bool = True):
    """Connect, then start the subscribers declared on `broker` once their durables exist.

    A service binds to the durables ops made (`python -m deploy.streams`) and never creates a
    stream or consumer: its NATS user may not. It is ready while connected, subscribed, and every
    stream it uses is there with `PORTAL_STREAM_REPLICAS` replicas (runtime.bus). A missing
    stream leaves it serving, not ready (503), and it binds as soon as ops have made it.

    `required_for_readiness=False`: the service answers well without NATS for a while (the
    gateway, whose session cache has a short lifetime anyway).

    Meanwhile its durables' backlog and its streams' replicas are polled into gauges
    (runtime.jetstream_gauges)."""
    service_name = getattr(broker, "service", None)  # a bus.ServiceBroker knows its durables

    async def subscribe() -> None:
        if service_name:
            await _retry(lambda: bus.check_durables(broker, service_name), "nats durables")
        await broker.start()

    async def connect_and_subscribe() -> None:
        await _retry(broker.connect, "nats")
        await subscribe()

    async def context(app: web.Application) -> AsyncIterator[None]:
        app[BROKER] = broker
        if required_for_readiness:
            await _retry(broker.connect, "nats")
            subscribing = asyncio.create_task(subscribe())

            async def messaging() -> None:
                if not broker.connection.is_connected:
                    raise ConnectionError("nats not connected")
                if service_name:
                    await bus.check_streams(broker, service_name, broker.stream_replicas)
                if not subscribing.done() or subscribing.exception():
                    raise bus.StreamsNotReady("not subscribed")

            app[READINESS].append(messaging)
            # the gateway (not required) has no JetStream API to ask, and no durable
            gauges = None
            if service_name:
                poll = jetstream_gauges.poll(jetstream_gauges.for_broker(broker), service_name, broker.stream_replicas)
                gauges = asyncio.create_task(poll)
            yield
            if gauges:
                await stop_task(gauges)
            await stop_task(subscribing)
        else:  # serve at once; subscribe whenever NATS is there
            task = asyncio.create_task(connect_and_subscribe())
            yield
            await stop_task(task)
        await broker.stop()

    return context


def outbox_relay(schema: str, broker: NatsBroker):
    return background(lambda app: OutboxRelay(app[POOL], bus.publisher(broker), schema).run())


def background(start: Callable[[web.Application], Awaitable[None]]):
    """A task that lives as long as the app; cancelled (and awaited) on shutdown."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(start(app))
        yield
        await stop_task(task)

    return context


async def stop_task(task: asyncio.Task, patience: float = 15.0) -> None:
    """Cancel `task` and wait for it — cancelling again while it runs on: a cancel can be
    swallowed on its way down (asyncio.wait_for on 3.11, gh-86296, in libraries too), and a
    shutdown must never wait forever."""
    deadline = asyncio.get_running_loop().time() + patience
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.5)
        if asyncio.get_running_loop().time() > deadline:
            log.error("background task did not stop", extra={"task": task.get_name()})
            return
    with contextlib.suppress(asyncio.CancelledError, Exception):
        task.result()


async def _retry(connect: Callable[[], Awaitable], what: str):
    delay = 0.5
    while True:
        try:
            return await connect()
        except (asyncpg.InvalidCatalogNameError, asyncpg.InvalidPasswordError, ValueError, db.MigrationEdited):
            raise  # a wrong address or password, or an edited migration, does not heal by waiting
        except Exception as error:
            log.warning("waiting for %s", what, extra={"error": repr(error)})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10)


async def serve(app: web.Application, settings: ServiceSettings) -> None:
    """The app on the public port and /metrics on a listener of its own, until SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    metrics = web.AppRunner(create_metrics_app(), access_log=None, handle_signals=False)
    await metrics.setup()
    metrics_site = web.TCPSite(
        metrics, settings.metrics_host, settings.metrics_port, reuse_port=settings.http_reuse_port
    )
    await metrics_site.start()
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    readiness = asyncio.create_task(readiness_gauge.watch(app.get(READINESS, [])))
    site = web.TCPSite(runner, settings.http_host, settings.http_port, reuse_port=settings.http_reuse_port)
    await site.start()
    settle_garbage_collector()
    log.info("listening", extra={"host": settings.http_host, "port": settings.http_port, "metrics": metrics_site.name})
    try:
        await stop.wait()
    finally:
        log.info("stopping")
        await stop_task(readiness)
        await runner.cleanup()
        await metrics.cleanup()


def settle_garbage_collector() -> None:
    """What the process built to start (modules, templates, settings, pools) lives as long as it:
    kept out of the collector's sweeps (gc.freeze), each of which otherwise walks all of it again.
    The youngest generation is collected every 7,000 allocations instead of 700: a request makes
    hundreds, short-lived. Measured only together with issue 12's other per-request savings."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(7000, 10, 10)


def main(service: str, settings_cls: type[S], create_app: Callable[[S], web.Application]) -> None:
    settings = load_settings(settings_cls, service)
    setup_logging(service, settings.log_level, settings.instance)
    app = create_app(settings)
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(serve(app, settings))


def loop_factory():
    """uvloop where it is installed (Linux and macOS: the container, the local runner): its loop,
    transports and socket writes cost a service less CPU per request than asyncio's own (issue 12's
    profile: 10-15 % of the gateway's and accounts' time was the loop itself). asyncio's otherwise."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop
