"""The print shop's NATS side: connect as the `printshop` user, bind the durable pull consumer,
fetch, print, ack.

Acks only after the letter is on disk (fsync + link). A crash between the write and the ack
means a redelivery after `ack_wait`, which finds `<request_id>.pdf` and is acked without a
second letter. Malformed messages are terminated (+TERM), transient write errors naked with a
delay; nothing here ends the process but SIGTERM/SIGINT.
"""

import asyncio
import contextlib
import logging
import os
import signal
import ssl

import nats
from nats.errors import ConnectionClosedError, NoServersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from contracts import PinRequestedV1
from deploy.printshop.settings import DURABLE, INBOX_PREFIX, STREAM, Settings
from deploy.printshop.shop import Outcome, PrintShop, load_private_key

log = logging.getLogger("printshop")
NAK_DELAY = 10.0  # seconds before a letter that could not be written comes back
FETCH_BATCH = 10
FETCH_TIMEOUT = 5.0


def consumer_config(ack_wait: float) -> ConsumerConfig:
    return ConsumerConfig(
        name=DURABLE,
        durable_name=DURABLE,
        description="The print shop: one PIN letter per request id",
        filter_subject=PinRequestedV1.SUBJECT,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ack_wait,
        max_ack_pending=100,
    )


class PrintShopService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.shop = PrintShop(
            load_private_key(settings.private_key), settings.output_dir, portal_url=settings.portal_url
        )
        self.stop = asyncio.Event()
        self.ready = False
        self.nc: nats.NATS | None = None
        self.closing = False

    async def run(self) -> None:
        self.shop.prepare()
        runner = await self._start_web()
        try:
            await self._connect()
            if self.nc is None:
                return
            subscription = await self._bind()
            if subscription is None:
                return
            self.ready = True
            log.info(
                "ready: consuming %s through durable %s on %s (ack_wait %ss), letters in %s",
                PinRequestedV1.SUBJECT,
                DURABLE,
                STREAM,
                self.settings.ack_wait_seconds,
                self.settings.output_dir,
            )
            await self._consume(subscription)
        finally:
            self.ready = False
            self.closing = True
            if self.nc is not None and not self.nc.is_closed:
                with contextlib.suppress(Exception):
                    await self.nc.close()
            if runner is not None:
                await runner.cleanup()
            log.info("stopped")

    # --- NATS ---------------------------------------------------------------------------

    async def _connect(self) -> None:
        s = self.settings
        options: dict = {
            "servers": s.nats_servers,
            "name": "printshop",
            "inbox_prefix": INBOX_PREFIX,
            "allow_reconnect": True,
            "max_reconnect_attempts": -1,
            "reconnect_time_wait": 1,
            "connect_timeout": 5,
            "error_cb": self._on_error,
            "disconnected_cb": self._on_disconnected,
            "reconnected_cb": self._on_reconnected,
        }
        if s.nats_user:
            options.update(user=s.nats_user, password=s.nats_password or "")
        if s.nats_creds:
            options["user_credentials"] = str(s.nats_creds)
        if s.nats_ca or any(server.startswith("tls://") for server in s.nats_servers):
            options["tls"] = ssl.create_default_context(cafile=str(s.nats_ca) if s.nats_ca else None)
        delay = 0.5
        while not self.stop.is_set():
            try:
                self.nc = await nats.connect(**options)
                log.info("connected to %s", self.nc.connected_url.netloc.rsplit("@", 1)[-1])
                return
            except (NoServersError, OSError, asyncio.TimeoutError, nats.errors.Error) as error:
                log.warning("NATS not reachable (%s); retrying in %.1f s", error, delay)
                await self._sleep(delay)
                delay = min(delay * 2, 10)

    async def _bind(self):
        js = self.nc.jetstream(timeout=10)
        config = consumer_config(self.settings.ack_wait_seconds)
        delay = 1.0
        while not self.stop.is_set():
            try:
                # CONSUMER.CREATE.<stream>.<durable>.<filter>: creates it, or updates ack_wait
                await js.add_consumer(STREAM, config=config)
                return await js.pull_subscribe_bind(durable=DURABLE, stream=STREAM)
            except NotFoundError:
                log.warning("stream %s does not exist yet (ops: python -m deploy.streams); retrying", STREAM)
            except (NatsTimeout, asyncio.TimeoutError):
                log.warning("no answer from JetStream for the consumer %s; retrying", DURABLE)
            except nats.js.errors.APIError as error:
                # e.g. an operator made the durable with settings that cannot be updated: use it
                log.warning("could not create/update consumer %s: %s; binding to it as it is", DURABLE, error)
                try:
                    await js.consumer_info(STREAM, DURABLE)
                    return await js.pull_subscribe_bind(durable=DURABLE, stream=STREAM)
                except nats.js.errors.Error as info_error:
                    log.warning("consumer %s not usable: %s; retrying", DURABLE, info_error)
            await self._sleep(delay)
            delay = min(delay * 2, 15)
        return None

    async def _consume(self, subscription) -> None:
        stopping = asyncio.create_task(self.stop.wait())
        try:
            while not self.stop.is_set():
                fetching = asyncio.create_task(subscription.fetch(FETCH_BATCH, timeout=FETCH_TIMEOUT))
                await asyncio.wait({fetching, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if not fetching.done():  # stopping: what the pull still brings is redelivered
                    fetching.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await fetching
                    return
                try:
                    messages = fetching.result()
                except (NatsTimeout, asyncio.TimeoutError):
                    continue
                except ConnectionClosedError:
                    log.error("NATS connection closed")
                    return
                except Exception as error:  # disconnected, a pull refused, …: try again soon
                    log.warning("fetch failed: %r", error)
                    await self._sleep(1)
                    continue
                for message in messages:  # a batch that arrived is finished, also when stopping
                    await self._process(message)
        finally:
            stopping.cancel()

    async def _process(self, message) -> None:
        delivery = _delivered(message)
        try:
            result = await asyncio.to_thread(self.shop.handle, message.data)
        except OSError as error:
            log.error("could not write the letter (%s); it comes back in %.0f s", error, NAK_DELAY)
            await _settle(message.nak(delay=NAK_DELAY), "nak")
            return
        except Exception:  # a bug: never crash, never loop on one message
            log.exception("unexpected error; message terminated")
            await _settle(message.term(), "term")
            return
        if result.outcome is Outcome.REJECTED:
            log.error(
                "rejected message (request %s, delivery %s): %s; terminated",
                result.request_id or "?",
                delivery,
                result.reason,
            )
            await _settle(message.term(), "term")
            return
        if result.outcome is Outcome.DUPLICATE:
            log.info(
                "already printed: request %s (delivery %s); acked without printing again", result.request_id, delivery
            )
        else:
            log.info("printed letter for request %s -> %s (delivery %s)", result.request_id, result.path, delivery)
            if self.settings.crash_before_ack:  # tests: die between the write and the ack
                log.warning("PRINTSHOP_CRASH_BEFORE_ACK: killing myself before the ack")
                os.kill(os.getpid(), signal.SIGKILL)
        await _settle(message.ack_sync(timeout=5), "ack")

    # --- callbacks, web, helpers --------------------------------------------------------

    async def _on_error(self, error: Exception) -> None:
        log.error("NATS error: %s", error)

    async def _on_disconnected(self) -> None:
        if not self.closing:
            log.warning("disconnected from NATS")

    async def _on_reconnected(self) -> None:
        log.info("reconnected to NATS")

    async def _start_web(self):
        if not self.settings.http_port:
            return None
        from aiohttp import web

        from deploy.printshop.web import create_app

        runner = web.AppRunner(create_app(self.settings.output_dir, lambda: self.ready), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, self.settings.http_host, self.settings.http_port).start()
        log.info("Briefe der Druckerei: http://%s:%s/", self.settings.http_host, self.settings.http_port)
        return runner

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.stop.wait(), seconds)


def _delivered(message) -> int | str:
    try:
        return message.metadata.num_delivered
    except Exception:
        return "?"


async def _settle(awaitable, what: str) -> None:
    """An ack/nak/term that fails is not fatal: the message is redelivered after ack_wait and
    the duplicate check makes that harmless."""
    try:
        await awaitable
    except Exception as error:
        log.warning("%s failed (%r); the message will be redelivered", what, error)
