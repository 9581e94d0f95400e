"""CPU the gateway spends per forwarded request, against a direct call to the same service.

`python -m tests.bench.bench_gateway [N]` prints µs of CPU per request (user + system, read from
/proc of each process) and requests per second, for: the service called directly, and through
one gateway process. DESIGN.md's anchors: a plain aiohttp proxy about 140 µs, nginx about 14 µs.
"""

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from deploy.infra import ROOT, NatsServer, ServiceProcess, _until, free_port
from runtime.identity import generate_signing_keypair

TICK = os.sysconf("SC_CLK_TCK")
CONCURRENCY = 32


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


async def load(url: str, n: int, headers: dict[str, str]) -> float:
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def worker(count: int) -> None:
            for _ in range(count):
                async with session.post(url, json={"betriebsnummer": "1000001"}) as response:
                    await response.read()

        started = time.perf_counter()
        await asyncio.gather(*(worker(n // CONCURRENCY) for _ in range(CONCURRENCY)))
        return time.perf_counter() - started


async def measure(label: str, url: str, pid: int, n: int, headers: dict[str, str]) -> None:
    await load(url, 500, headers)  # warm up: connections, caches
    before = cpu_seconds(pid)
    elapsed = await load(url, n, headers)
    spent = cpu_seconds(pid) - before
    print(f"  {label:<28} {spent / n * 1e6:8.0f} µs CPU/request  {n / elapsed:8.0f} requests/s")


async def main(n: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="kp-bench-gw-"))
    upstream_port, gateway_port = free_port(), free_port()
    upstream = subprocess.Popen([sys.executable, "-m", "tests.bench.upstream_echo", str(upstream_port)], cwd=ROOT)
    nats = NatsServer(folder / "js", log_path=folder / "nats.log")
    await nats.start()
    upstream_url = f"http://127.0.0.1:{upstream_port}"
    public = f"http://127.0.0.1:{gateway_port}"
    gateway = ServiceProcess(
        "gateway",
        {
            "PORTAL_NATS_URL": nats.url,
            "PORTAL_PUBLIC_URL": public,
            "PORTAL_IDENTITY_PRIVATE_KEY": generate_signing_keypair()[1],
            "PORTAL_LOG_LEVEL": "WARNING",
            "PORTAL_ACCOUNTS_URL": upstream_url,
            "PORTAL_PINS_URL": upstream_url,
            "PORTAL_NOTIFICATIONS_URL": upstream_url,
        },
        gateway_port,
        folder,
    )
    try:
        await _until(lambda: _ok(upstream_url + "/healthz"), 20, "upstream")
        await gateway.start()
        await gateway.wait_ready()
        print(f"gateway benchmark: {n} POST requests, {CONCURRENCY} at a time, {os.cpu_count()} cores")
        await measure("service, direct", upstream_url + "/api/v1/pins/requests", upstream.pid, n, {})
        await measure("through the gateway", public + "/api/v1/pins/requests", gateway.pid, n, {"Origin": public})
    finally:
        await gateway.terminate()
        upstream.terminate()
        upstream.wait(10)
        await nats.stop()


async def _ok(url: str) -> bool:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status == 200


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000))
