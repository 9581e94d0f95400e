"""The load driver's pure parts (tests/bench/load.py) and the login floor's proxy, so the instruments do not rot."""

import math
import os
import subprocess
import sys

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.bench.anchors import argon2_parallel_rate, argon2_verify_seconds
from tests.bench.load import SCENARIOS, Window, cpu_of, family, parse_args, percentile, ratio
from tests.bench.login_floor import proxy_app


def test_percentile_is_nearest_rank():
    samples = sorted(float(i) for i in range(1, 101))  # 1 … 100
    assert percentile(samples, 50) == 50.0
    assert percentile(samples, 95) == 95.0
    assert percentile(samples, 99) == 99.0
    assert percentile(samples, 100) == 100.0
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 50))


def test_small_samples_round_up_to_the_next_rank():
    # p99 of 10 samples is the largest, not an interpolation below it
    assert percentile([float(i) for i in range(10)], 99) == 9.0
    assert percentile([1.0, 2.0, 3.0], 50) == 2.0


def test_window_counts_only_requests_inside_it():
    window = Window(start=10.0, end=20.0)
    assert not window.record(9.5, 10.5, True, 200)  # began in the warm-up
    assert window.record(10.0, 10.2, True, 200)
    assert window.record(15.0, 15.5, False, 503)
    assert not window.record(19.9, 20.1, True, 200)  # still in flight at the end
    assert window.count == 2
    assert window.errors == 1
    assert window.statuses == {200: 1, 503: 1}
    assert window.ok_per_second == pytest.approx(0.1)  # one good answer in 10 s


def test_summary_reports_milliseconds_and_only_good_answers_as_throughput():
    window = Window(start=0.0, end=2.0)
    for i in range(100):
        window.record(0.01 * i, 0.01 * i + 0.001 * (i + 1), i != 0, 200 if i else "ClientError")
    summary = window.summary()
    assert summary["requests"] == 100
    assert summary["errors"] == 1
    assert summary["rps"] == pytest.approx(99 / 2.0)
    assert summary["p50_ms"] == pytest.approx(50.0)
    assert summary["p99_ms"] == pytest.approx(99.0)


def test_ratio_reads_against_its_anchor():
    assert ratio(2038.0, 1078.0) == "1.89×"
    assert ratio(1.0, 0.0) == "n/a"
    assert ratio(math.nan, 1.0) == "n/a"


def test_command_line_defaults_and_modes():
    args = parse_args([])
    assert (args.scenarios, args.connections, args.rate, args.log_level) == (["me", "peer-me"], 32, 50.0, "WARNING")
    assert parse_args(["me", "--log-level", "INFO"]).log_level == "INFO"
    args = parse_args(["login", "-c", "8", "--mail-latency", "--rate", "20", "--login-storm"])
    assert (args.scenarios, args.connections, args.mail_latency, args.rate, args.login_storm) == (
        ["login"],
        8,
        True,
        20.0,
        True,
    )
    assert {"register", "confirm", "login", "me", "pin-request", "link"} <= set(SCENARIOS)
    with pytest.raises(SystemExit):
        parse_args(["mee"])


def test_cpu_is_read_for_a_process_and_its_children():
    # a child that lives until its stdin closes: no timer, it ends when the test ends it
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        assert family(os.getpid())[0] == os.getpid()
        assert child.pid in family(os.getpid())
        spent = cpu_of({"me": [os.getpid()]})
        assert spent["me"] > 0 and 0 <= spent["me sys"] <= spent["me"]
    finally:
        child.stdin.close()
        child.wait()


def test_argon2_anchors_measure_the_portals_hash():
    one = argon2_verify_seconds(repeat=1)
    assert 0 < one < 5  # CPU seconds of one verify at m = 19 MiB: milliseconds, never nothing
    assert argon2_parallel_rate(1, seconds=0.2) > 0


async def test_the_login_floors_proxy_passes_the_answer_on_as_it_came():
    """tests/bench/login_floor.py: its bare proxy forwards method, path and body, and answers
    with the upstream's status and body, so the floor it measures is one hop and nothing less."""
    seen = []

    async def upstream(request: web.Request) -> web.Response:
        seen.append((request.method, request.path_qs, await request.read()))
        return web.json_response({"right": True}, status=201)

    service = web.Application()
    service.router.add_post("/login", upstream)
    async with TestServer(service) as behind:
        upstream_url = str(behind.make_url("")).rstrip("/")
        async with TestClient(TestServer(await proxy_app(upstream_url))) as client:
            answer = await client.post("/login?x=1", data=b'{"a": 1}')
            assert (answer.status, await answer.json()) == (201, {"right": True})
    assert seen == [("POST", "/login?x=1", b'{"a": 1}')]
