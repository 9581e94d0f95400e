"""The floor of a login in the portal's shape, on this machine (issue 12): what share of the argon2
bound the hops alone leave, with none of the portal's own work.

`python -m tests.bench.login_floor --rounds 3` runs, beside an embedded Postgres, a bare aiohttp
proxy (aiohttp's client, keep-alive) in front of a bare aiohttp service on uvloop. Each login
there is what a portal login cannot do without: a write and its commit before the hash (the
throttle's reservation), the verify in accounts' own hashing pool (services/accounts/hashing.py:
its parameters, its threads at their niceness), and a write and its commit after it (the
session). No identity signature, no cookies, no logs, no throttle rules, no JSON model. The load
driver, its window and its CPU accounting are tests/bench/load.py's, and each round measures the
argon2 anchor just before it, as load.py's login scenario does.

So `load.py login`'s ratio reads against two references: the bound (cores ÷ one verify), and
this floor, which the hops between processes and the hashes' cache misses impose on this machine.
"""

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import aiohttp
from aiohttp import web

from deploy.infra import Postgres, _until, free_port
from tests.bench.anchors import PASSWORD, argon2_verify_seconds
from tests.bench.client import Lean
from tests.bench.load import closed_loop, report

LOGIN = "/login"
SCHEMA = (
    "create table if not exists attempts (id bigserial primary key, at timestamptz not null default now());"
    "create table if not exists sessions (id bigserial primary key, attempt bigint not null,"
    " at timestamptz not null default now())"
)


# --- the two processes under test -------------------------------------------------------------


async def service_app(dsn: str) -> web.Application:
    import asyncpg

    from services.accounts.hashing import HASHER, Hashing

    stored = HASHER.hash(PASSWORD)
    hashing = Hashing(workers=2)
    pool = await asyncpg.create_pool(dsn, min_size=4, max_size=16)
    async with pool.acquire() as conn:
        await conn.execute(SCHEMA)

    async def login(request: web.Request) -> web.Response:
        await request.read()
        async with pool.acquire() as conn:
            attempt = await conn.fetchval("insert into attempts default values returning id")
        right = await hashing.verify(stored, PASSWORD)
        async with pool.acquire() as conn:
            await conn.execute(
                "with gone as (delete from attempts where id = $1) insert into sessions (attempt) values ($1)", attempt
            )
        return web.json_response({"right": right}, status=201)

    app = web.Application()
    app.router.add_post(LOGIN, login)
    return app


async def proxy_app(upstream: str) -> web.Application:
    async def forward(request: web.Request) -> web.Response:
        body = await request.read()
        async with client.request(
            request.method, upstream + request.path_qs, data=body, headers={"Content-Type": "application/json"}
        ) as answer:
            return web.Response(status=answer.status, body=await answer.read(), content_type="application/json")

    client = aiohttp.ClientSession()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)
    app.on_cleanup.append(lambda _: client.close())
    return app


def serve(role: str, port: int, target: str) -> None:
    import uvloop

    app = service_app(target) if role == "service" else proxy_app(target)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None, loop=uvloop.new_event_loop())


# --- the run ----------------------------------------------------------------------------------


async def answers(url: str) -> bool:
    async with aiohttp.ClientSession() as session, session.post(url + LOGIN, data=b"{}") as answer:
        return answer.status == 201


async def main(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="kp-floor-"))
    postgres = Postgres(folder / "pg", durable=True)
    await postgres.start()
    processes: list[subprocess.Popen] = []
    try:
        service_port, proxy_port = free_port(), free_port()
        for role, port, target in (
            ("service", service_port, postgres.dsn),
            ("proxy", proxy_port, f"http://127.0.0.1:{service_port}"),
        ):
            command = [sys.executable, "-m", "tests.bench.login_floor", "--serve", role, str(port), target]
            processes.append(subprocess.Popen(command))
            await _until(lambda url=f"http://127.0.0.1:{port}": answers(url), 30, f"the floor's {role}")
        base = f"http://127.0.0.1:{proxy_port}"
        clients = [Lean(base) for _ in range(args.connections)]
        request = clients[0].prepare("POST", LOGIN, b'{"email": "erika@example.org", "password": "..."}')

        async def op(client: Lean, _: int) -> tuple[bool, int]:
            status = await client.send(request)
            return status == 201, status

        postmaster = int((postgres.data_dir / "postmaster.pid").read_text().split()[0])
        pids = {"proxy": [processes[1].pid], "service": [processes[0].pid], "postgres": [postmaster]}
        print(f"login floor: {os.cpu_count()} cores, -c {args.connections}, window {args.seconds:.0f} s")
        for round_ in range(1, args.rounds + 1):
            verify = argon2_verify_seconds()
            bound = os.cpu_count() / verify
            print(
                f" round {round_} of {args.rounds}: argon2 verify (anchor) {verify * 1000:.1f} ms CPU → bound {bound:.0f}/s"
            )
            window, cpu = await closed_loop(clients, op, args.warmup, args.seconds, pids)
            report("floor login", window, cpu, ("of the argon2 bound", bound))
        for client in clients:
            client.close()
    finally:
        for process in processes:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        await postgres.stop()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.login_floor", description=__doc__.split("\n")[0])
    parser.add_argument("-c", "--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", nargs=3, metavar=("ROLE", "PORT", "TARGET"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.serve:
        role, port, target = arguments.serve
        serve(role, int(port), target)
    else:
        asyncio.run(main(arguments))
