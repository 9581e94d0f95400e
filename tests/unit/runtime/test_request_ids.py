"""The request id in the runtime: which ids are taken, the log context, the access line, and the
hand-over from an event's NATS header to its handler."""

import json
import logging

import pytest
from aiohttp.http_exceptions import LineTooLong
from aiohttp.test_utils import TestClient, TestServer

from contracts import Event
from runtime import logs
from runtime.logs import JsonFormatter, current_request_id, request_context, safe_request_id
from runtime.web import create_service_app
from tests.support.consumers import MemoryDeadLetters
from tests.support.identity import PUBLIC_KEY
from tests.unit.runtime.test_consumers import EVENT, Message, handler


class Lines(logging.Handler):
    """What the service's stderr would show, formatted as the line is written."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter("test"))
        self.lines: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def access_lines():
    lines = Lines()
    logger = logging.getLogger("portal.access")
    logger.addHandler(lines)
    logger.setLevel(logging.INFO)
    yield lines.lines
    logger.removeHandler(lines)


@pytest.mark.parametrize("value", ["4f1c2a", "proxy-1.abc_DEF", "a" * 64])
def test_a_bounded_plain_id_is_taken(value: str) -> None:
    assert safe_request_id(value) == value


@pytest.mark.parametrize("value", [None, "", "a" * 65, "x\nforged line", "id with space", 'x"}', "ä", "a" * 10_000])
def test_anything_else_is_not(value: str | None) -> None:
    assert safe_request_id(value) is None


def test_new_ids_are_safe_and_distinct() -> None:
    first, second = logs.new_request_id(), logs.new_request_id()
    assert first != second
    assert safe_request_id(first) == first


def test_lines_in_the_context_carry_the_id_and_an_extra_cannot_overwrite_it() -> None:
    formatter = JsonFormatter("test")

    def line(**extra) -> dict:
        record = logging.makeLogRecord({"msg": "m", "levelname": "INFO", **extra})
        return json.loads(formatter.format(record))

    assert "request_id" not in line()
    with request_context("req-1"):
        assert line()["request_id"] == "req-1"
        assert line(request_id="other")["request_id"] == "req-1"
        with request_context("bad\nid"):
            assert "request_id" not in line()  # an unsafe id is dropped, not the outer one kept
        assert current_request_id() == "req-1"
    assert current_request_id() is None


async def test_a_service_logs_one_access_line_per_request_with_the_gateways_id(access_lines) -> None:
    async with TestClient(TestServer(create_service_app(PUBLIC_KEY))) as client:
        response = await client.get("/healthz?token=geheim123", headers={"X-Request-Id": "gw-42", "Cookie": "a=b"})
        assert response.status == 200
        assert response.headers["X-Request-Id"] == "gw-42"
        refused = await client.get("/api/v1/x", headers={"X-Request-Id": "bad id\t" + "x" * 100})
        assert refused.status == 403
        replaced = refused.headers["X-Request-Id"]
    first, second = access_lines
    assert first["request_id"] == "gw-42"
    assert (first["method"], first["path"], first["status"]) == ("GET", "/healthz", 200)
    assert first["client"] == "127.0.0.1"
    assert isinstance(first["duration_ms"], float)
    assert "geheim123" not in json.dumps(first) and "a=b" not in json.dumps(first)
    assert second["status"] == 403 and second["request_id"] == replaced
    assert safe_request_id(replaced) == replaced and "bad" not in replaced


async def test_a_consumer_handles_an_event_in_its_requests_context() -> None:
    seen: list[str | None] = []

    async def accept(_: Event) -> bool:
        seen.append(current_request_id())
        return True

    handle = handler(accept, MemoryDeadLetters())
    await handle(Message(EVENT.model_dump_json().encode(), headers={"X-Request-Id": "reg-7"}))
    await handle(Message(EVENT.model_dump_json().encode(), headers={"X-Request-Id": "x\r\nforged"}))
    await handle(Message(EVENT.model_dump_json().encode()))
    assert seen == ["reg-7", None, None]
    assert current_request_id() is None


def test_a_request_aiohttp_refuses_is_logged_without_its_bytes() -> None:
    """aiohttp logs an unparseable request with an excerpt of it (a 10 KB header, a cookie):
    whatever a client sent must not reach a log, only that it was refused."""
    try:
        raise LineTooLong(b"planted-" + b"x" * 200, "8190")
    except LineTooLong as error:
        record = logging.LogRecord(
            "aiohttp.server", logging.ERROR, __file__, 1, "Error handling request from %s", ("10.0.0.1",), None
        )
        record.exc_info = (type(error), error, error.__traceback__)
    assert logs.RefusedRequests().filter(record)
    line = json.loads(JsonFormatter("test").format(record))
    assert "planted" not in json.dumps(line)
    assert line["level"] == "warning" and line["error"] == "LineTooLong (400)"
    assert "10.0.0.1" in line["msg"]


def test_other_errors_keep_their_traceback() -> None:
    try:
        raise RuntimeError("a bug")
    except RuntimeError as error:
        record = logging.LogRecord("aiohttp.server", logging.ERROR, __file__, 1, "Error handling request", (), None)
        record.exc_info = (type(error), error, error.__traceback__)
    assert logs.RefusedRequests().filter(record)
    assert "a bug" in json.loads(JsonFormatter("test").format(record))["error"]
