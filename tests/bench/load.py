"""The portal under load, through its gateway, with anchors measured in the same run (issue 12).

`python -m tests.bench.load me -c 32 --seconds 10` starts a portal of its own (embedded Postgres,
NATS with TLS, the mail catcher, the four services; `--replicas`, `--nats-nodes` as deploy.run),
drives one scenario in a closed loop (`-c` connections, each sends its next request when the last
answered), warms up, then measures a window: req/s, p50/p95/p99, errors, and CPU per process read
from /proc. Scenarios: register, confirm, login, me, pin-request, link, peer-me (fastapi-users'
`/users/me`, started beside the portal), bare (a bare aiohttp handler: the anchor), and `all`.
`--mail-latency --rate 50` registers at a fixed arrival rate and measures registration → the
confirmation mail at the SMTP catcher; `--login-storm` runs `me` while 4 members log in without
pause, for the portal and for the peer. Every figure prints with its anchor or target as a ratio.
Needs `.venv/bin/pip install -e .[bench]`. The pure parts (percentiles, the window's accounting)
are tested in tests/unit/test_bench_load.py.
"""

import argparse
import asyncio
import contextlib
import json
import math
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from tests.bench.anchors import PASSWORD, argon2_parallel_rate, argon2_verify_seconds
from tests.bench.client import Lean, LeanGet, cookie_header
from tests.support.mail import extract_token_link

TICK = os.sysconf("SC_CLK_TCK")
PERSON = {"first_name": "Erika", "last_name": "Mustermann", "birth_date": "1979-05-04"}
API = "/api/v1/accounts"

# The targets, each as (label, value, higher is better).
TARGET_ME_VS_PEER = 4.0
TARGET_ME_P99_MS = 30.0
TARGET_LOGIN_OF_BOUND = 0.90
TARGET_ME_KEPT_DURING_LOGINS = 0.60
TARGET_REGISTRATIONS_PER_S = 1000.0
TARGET_MAIL_P99_MS = 250.0
TARGET_GATEWAY_CPU_US = 80.0
TARGET_ACCOUNTS_CPU_US = 120.0
TARGET_RSS_MB = 120.0


# --- pure parts -----------------------------------------------------------------------------


def percentile(sorted_samples: list[float], p: float) -> float:
    """Nearest-rank percentile of already sorted samples (NaN when there are none)."""
    if not sorted_samples:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_samples)))
    return sorted_samples[min(rank, len(sorted_samples)) - 1]


@dataclass
class Window:
    """A closed loop's accounting: only requests that both started and finished inside the measured
    window count, so warm-up and the requests still in flight at its end leave no trace."""

    start: float
    end: float
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    errors: int = 0
    counted: dict[str, float] = field(default_factory=dict)  # closed_loop's `counters`, grown in the window

    def record(self, started: float, finished: float, ok: bool, status: int | str) -> bool:
        if started < self.start or finished > self.end:
            return False
        self.latencies.append(finished - started)
        self.statuses[status] += 1
        if not ok:
            self.errors += 1
        return True

    @property
    def seconds(self) -> float:
        return self.end - self.start

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def ok_per_second(self) -> float:
        return (self.count - self.errors) / self.seconds

    def summary(self) -> dict[str, float]:
        ordered = sorted(self.latencies)
        return {
            "requests": self.count,
            "errors": self.errors,
            "rps": self.ok_per_second,
            "p50_ms": percentile(ordered, 50) * 1000,
            "p95_ms": percentile(ordered, 95) * 1000,
            "p99_ms": percentile(ordered, 99) * 1000,
        }


def ratio(value: float, anchor: float) -> str:
    return f"{value / anchor:.2f}×" if anchor and not math.isnan(value) else "n/a"


# --- measuring ------------------------------------------------------------------------------


def cpu_seconds(pid: int, *, system_only: bool = False, reaped: bool = False) -> float:
    """User + system CPU of pid (or system only: the kernel's share, sockets mostly); `reaped`
    adds its children that ended, so a process family that comes and goes is still counted."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = int(fields[12]) + (0 if system_only else int(fields[11]))
    ended = (int(fields[14]) + (0 if system_only else int(fields[13]))) if reaped else 0
    return (own + ended) / TICK


def family(pid: int) -> list[int]:
    """pid and its children (uvicorn's workers), read from /proc."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    children.append(int(entry.name))
    return [pid, *children]


def cpu_of(pids: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds by name, and by "name sys" the kernel's part of them."""
    totals = {}
    for name, group in pids.items():
        total = system = 0.0
        postgres = name == "postgres"
        if postgres:  # backends come and go (the peer's pool closes its overflow): re-read them
            group = family(group[0])
        for i, pid in enumerate(group):
            reaped = postgres and i == 0
            with contextlib.suppress(OSError):
                total += cpu_seconds(pid, reaped=reaped)
                system += cpu_seconds(pid, system_only=True, reaped=reaped)
        totals[name], totals[f"{name} sys"] = total, system
    return totals


Op = Callable[[aiohttp.ClientSession, int], Awaitable[tuple[bool, int | str]]]


Counters = Callable[[], Awaitable[dict[str, float]]]


async def closed_loop(
    sessions: list[aiohttp.ClientSession],
    op: Op,
    warmup: float,
    seconds: float,
    pids: dict[str, list[int]],
    counters: Counters | None = None,
) -> tuple[Window, dict[str, float]]:
    """Each session is one connection sending its next request when the last answered.
    `counters`: read with the CPU at the window's start and end, their growth in `window.counted`."""
    now = time.perf_counter()
    window = Window(now + warmup, now + warmup + seconds)
    cpu_before: dict[str, float] = {}
    counted_before: dict[str, float] = {}

    async def worker(i: int) -> None:
        session = sessions[i]
        while (started := time.perf_counter()) < window.end:
            try:
                ok, status = await op(session, i)
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
                ok, status = False, type(error).__name__
            except Exhausted:
                return
            window.record(started, time.perf_counter(), ok, status)

    async def sample_cpu() -> None:
        await asyncio.sleep(max(0.0, window.start - time.perf_counter()))
        cpu_before.update(cpu_of(pids))
        if counters is not None:
            counted_before.update(await counters())

    pids = {**pids, "driver": [os.getpid()]}  # this process: its share of the cores shows too
    sampler = asyncio.create_task(sample_cpu())
    await asyncio.gather(*(worker(i) for i in range(len(sessions))))
    await sampler
    after = cpu_of(pids)
    if counters is not None:
        counted = await counters()
        window.counted = {name: value - counted_before.get(name, 0.0) for name, value in counted.items()}
    return window, {name: after[name] - cpu_before.get(name, after[name]) for name in after}


class Exhausted(Exception):
    """A scenario ran out of prepared material (confirmation tokens)."""


def report(label: str, window: Window, cpu: dict[str, float], anchor: tuple[str, float] | None = None) -> dict:
    s = window.summary()
    line = (
        f"  {label:<22} {s['rps']:8.0f} req/s  p50 {s['p50_ms']:6.1f}  p95 {s['p95_ms']:6.1f}  "
        f"p99 {s['p99_ms']:6.1f} ms  errors {s['errors']}/{s['requests']}"
    )
    if anchor:
        line += f"  = {ratio(s['rps'], anchor[1])} {anchor[0]}"
    print(line)
    done = max(1, s["requests"])
    parts = [
        f"{n} {sec / done * 1e6:.0f} µs (sys {cpu.get(f'{n} sys', 0) / done * 1e6:.0f})"
        for n, sec in cpu.items()
        if not n.endswith(" sys")
    ]
    print("  " + " " * 22 + " CPU/request: " + "  ".join(parts))
    if window.errors:
        print("  " + " " * 22 + f" answers: {dict(window.statuses)}")
    return {**s, "cpu_us": {n: sec / done * 1e6 for n, sec in cpu.items()}}


# --- the systems under test ------------------------------------------------------------------


@dataclass
class Rig:
    portal: object
    mail: object
    postgres: object
    folder: Path
    bare_url: str = ""
    bare: subprocess.Popen | None = None
    peer_url: str = ""
    peer: subprocess.Popen | None = None

    def portal_pids(self) -> dict[str, list[int]]:
        return {
            **{
                name: [p.pid for p in self.portal.instances(name)]
                for name in ("gateway", "accounts", "pins", "notifications")
            },
            "postgres": self.postgres_pids(),
            "nats": self.nats_pids(),
        }

    def nats_pids(self) -> list[int]:
        """The NATS server (or each node of a cluster): the events' cost is the portal's too."""
        nats = self.portal.nats
        return [node.pid for node in getattr(nats, "nodes", [nats]) if node.pid is not None]

    def postgres_pids(self) -> list[int]:
        """The postmaster (its backends are found, ended ones counted, at each reading by cpu_of):
        the database's CPU counts too, for us and for the peer."""
        return [int((self.postgres.data_dir / "postmaster.pid").read_text().split()[0])]


@contextlib.asynccontextmanager
async def rig(args: argparse.Namespace):
    from deploy.infra import ROOT, Postgres, _http_ok, _until, free_port
    from deploy.mailcatcher import MailCatcher
    from tests.support.portal import start_portal

    folder = Path(tempfile.mkdtemp(prefix="kp-load-"))
    postgres = Postgres(folder / "pg", durable=True)
    mail = MailCatcher(http_port=None)
    r = Rig(None, mail, postgres, folder)
    try:  # a portal that fails to start must not leave its Postgres running
        await postgres.start()
        await mail.start()
        r.portal = await start_portal(
            postgres=postgres,
            mail=mail,
            log_dir=folder / "portal",
            replicas=args.replicas,
            nats_nodes=args.nats_nodes,
            log_level=args.log_level,
        )
        port = free_port()
        r.bare = subprocess.Popen([sys.executable, "-m", "tests.bench.upstream_echo", str(port)], cwd=ROOT)
        r.bare_url = f"http://127.0.0.1:{port}"
        if args.peer:
            peer_dsn = await postgres.create_database("peer")
            port = free_port()
            r.peer = subprocess.Popen(
                [sys.executable, "-m", "tests.bench.peer", str(port), str(args.peer_workers)],
                cwd=ROOT,
                env={**os.environ, "PEER_DATABASE_URL": peer_dsn},
            )
            r.peer_url = f"http://127.0.0.1:{port}"
            await _until(lambda: _http_ok(r.peer_url + "/healthz"), 30, "peer")
        await _until(lambda: _http_ok(r.bare_url + "/healthz"), 20, "bare aiohttp")
        yield r
    finally:
        for process in (r.peer, r.bare):
            if process is not None:
                process.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(10)
        if r.portal is not None:
            await r.portal.stop()
        await mail.stop()
        if postgres.running:
            await postgres.stop()
        shutil.rmtree(folder, ignore_errors=True)


def new_session(
    base: str, connections: int = 1, origin: str | None = None, *, cookies: bool = True
) -> aiohttp.ClientSession:
    """One client; `cookies=False` for logins, each then a new device without a session."""
    return aiohttp.ClientSession(
        base_url=base,
        headers={"Origin": origin or base},
        cookie_jar=aiohttp.CookieJar(unsafe=True) if cookies else aiohttp.DummyCookieJar(),
        connector=aiohttp.TCPConnector(limit=connections),
        timeout=aiohttp.ClientTimeout(total=30),
    )


def new_email(tag: str) -> str:
    return f"{tag}-{secrets.token_hex(6)}@example.de"


async def register(session: aiohttp.ClientSession, email: str) -> int:
    async with session.post(f"{API}/registrations", json={**PERSON, "email": email}) as response:
        await response.read()
        return response.status


async def confirmation_tokens(r: Rig, n: int, session: aiohttp.ClientSession) -> dict[str, str]:
    """n registrations, their tokens read from the mails: e-mail → token."""
    emails = [new_email("bench") for _ in range(n)]
    for chunk in range(0, n, 64):
        await asyncio.gather(*(register(session, e) for e in emails[chunk : chunk + 64]))
    wanted = set(emails)
    tokens: dict[str, str] = {}
    deadline = time.monotonic() + 60 + n / 20
    seen = 0
    while len(tokens) < n and time.monotonic() < deadline:
        messages = r.mail.messages
        for mail in messages[seen:]:
            if mail.to in wanted and mail.to not in tokens and "token=" in mail.text:
                tokens[mail.to] = extract_token_link(mail.text).split("token=", 1)[1]
        seen = len(messages)
        await r.mail.wait_beyond(seen, max(0.0, deadline - time.monotonic()))
    return tokens


async def members(r: Rig, n: int) -> list[tuple[str, str]]:
    """n confirmed members with a password of their own, as most members are (with the initial
    one, the gateway answers 403 to all but `me` and the change): (e-mail, password)."""
    from tests.support.mail import extract_password

    async with new_session(r.portal.gateway_url, 16) as session:
        tokens = await confirmation_tokens(r, n, session)
        mark = r.mail.mark()

        async def confirm(token: str) -> None:
            async with session.post(f"{API}/registrations/confirm", json={"token": token}) as response:
                assert response.status == 200, await response.text()

        for batch in _chunks(list(tokens.values()), 8):
            await asyncio.gather(*(confirm(t) for t in batch))
        initial = []
        for email in tokens:
            mail = await r.mail.wait_for(lambda m, e=email: m.to == e and "Passwort: " in m.text, 60, since=mark)
            initial.append((email, extract_password(mail.text)))
        for batch in _chunks(initial, 8):
            await asyncio.gather(*(own_password(r, email, password) for email, password in batch))
        return [(email, PASSWORD) for email, _ in initial]


async def own_password(r: Rig, email: str, initial: str) -> None:
    async with new_session(r.portal.gateway_url) as session:
        assert (await log_in(session, email, initial))[0]
        body = {"current_password": initial, "new_password": PASSWORD}
        async with session.post(f"{API}/password", json=body) as response:
            assert response.status == 204, await response.text()


def _chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


async def log_in(session: aiohttp.ClientSession, email: str, password: str) -> tuple[bool, int]:
    async with session.post(f"{API}/sessions", json={"email": email, "password": password}) as response:
        await response.read()
        return response.status == 201, response.status


async def get_ok(session: aiohttp.ClientSession, path: str) -> tuple[bool, int]:
    async with session.get(path) as response:
        await response.read()
        return response.status == 200, response.status


async def get_loop(
    args: argparse.Namespace, base: str, path: str, sessions: list[aiohttp.ClientSession], pids: dict[str, list[int]]
) -> tuple["Window", dict[str, float]]:
    """The closed loop of GETs on `path`, one lean connection per session carrying its cookies."""
    clients = [LeanGet(base, path, cookie_header(s.cookie_jar, base)) for s in sessions]
    try:
        return await closed_loop(clients, lambda c, _: c.get(), args.warmup, args.seconds, pids)
    finally:
        for client in clients:
            client.close()


async def peer_member(session: aiohttp.ClientSession) -> str:
    email = new_email("peer")
    async with session.post("/auth/register", json={"email": email, "password": PASSWORD}) as response:
        assert response.status == 201, await response.text()
    assert (await peer_log_in(session, email))[0]
    return email


async def peer_log_in(session: aiohttp.ClientSession, email: str) -> tuple[bool, int]:
    form = {"username": email, "password": PASSWORD}
    async with session.post("/auth/cookie/login", data=form) as response:
        await response.read()
        return response.status == 204, response.status


# --- anchors ---------------------------------------------------------------------------------


async def metric_sums(r: Rig, wanted: dict[str, tuple[str, str]]) -> dict[str, float]:
    """Sums over every instance of a service of the series whose line starts with a prefix:
    {name: (service, prefix)}, read from the services' /metrics."""
    sums = dict.fromkeys(wanted, 0.0)
    async with aiohttp.ClientSession() as session:
        for service in {service for service, _ in wanted.values()}:
            for process in r.portal.instances(service):
                async with session.get(process.metrics_url) as response:
                    lines = (await response.text()).splitlines()
                for name, (of, prefix) in wanted.items():
                    if of == service:
                        sums[name] += sum(float(line.rsplit(" ", 1)[1]) for line in lines if line.startswith(prefix))
    return sums


async def hashes_done(r: Rig) -> tuple[float, float]:
    """Argon2 computations accounts ran so far and their CPU seconds (its /metrics), to count
    them per request and to see what one costs inside the service."""
    found = await metric_sums(
        r,
        {
            "count": ("accounts", "accounts_password_hashes_total{"),
            "seconds": ("accounts", "accounts_password_hash_cpu_seconds_total{"),
        },
    )
    return found["count"], found["seconds"]


async def bare_anchor(r: Rig, args: argparse.Namespace) -> dict:
    clients = [LeanGet(r.bare_url, "/api/v1/accounts/me") for _ in range(args.connections)]
    try:
        window, cpu = await closed_loop(
            clients, lambda c, _: c.get(), args.warmup, args.seconds, {"bare": [r.bare.pid]}
        )
        return report("bare aiohttp (anchor)", window, cpu)
    finally:
        for client in clients:
            client.close()


# --- scenarios -------------------------------------------------------------------------------


async def scenario_me(r: Rig, args: argparse.Namespace, bare: dict | None, label: str = "me") -> dict:
    accounts = await members(r, args.connections)
    sessions = [new_session(r.portal.gateway_url) for _ in accounts]
    try:
        for session, (email, password) in zip(sessions, accounts, strict=True):
            ok, status = await log_in(session, email, password)
            assert ok, status
        profilers = profile(r, args)
        window, cpu = await get_loop(args, r.portal.gateway_url, f"{API}/me", sessions, r.portal_pids())
        for profiler in profilers:
            profiler.wait(60)
        return report(label, window, cpu, ("of bare aiohttp", bare["rps"]) if bare else None)
    finally:
        await asyncio.gather(*(s.close() for s in sessions))


def profile(r: Rig, args: argparse.Namespace, scenario: str = "me") -> list[subprocess.Popen]:
    """py-spy on the gateway and accounts (and notifications for register) for the measured window (`--profile DIR`): DIR/<service>.
    <format> for `me`, DIR/<service>.<scenario>.<format> for login and register."""
    if not args.profile:
        return []
    args.profile.mkdir(parents=True, exist_ok=True)
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    seconds = str(int(args.warmup + args.seconds))
    return [
        subprocess.Popen(
            [
                spy,
                "record",
                "--pid",
                str(r.portal.services[name].pid),
                "-d",
                seconds,
                "-r",
                "200",
                "--nonblocking",
                "--format",
                fmt,
                "-o",
                str(args.profile / (f"{name}.{ext}" if scenario == "me" else f"{name}.{scenario}.{ext}")),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name in ("gateway", "accounts", *(("notifications",) if scenario == "register" else ()))
        for fmt, ext in (("speedscope", "speedscope.json"), ("raw", "folded"))
    ]


async def scenario_peer_me(r: Rig, args: argparse.Namespace, bare: dict | None) -> dict:
    sessions = [new_session(r.peer_url) for _ in range(args.connections)]
    try:
        for session in sessions:
            await peer_member(session)
        peer_pids = {"peer": family(r.peer.pid), "postgres": r.postgres_pids()}
        window, cpu = await get_loop(args, r.peer_url, "/users/me", sessions, peer_pids)
        return report("peer /users/me", window, cpu, ("of bare aiohttp", bare["rps"]) if bare else None)
    finally:
        await asyncio.gather(*(s.close() for s in sessions))


async def scenario_login(r: Rig, args: argparse.Namespace) -> dict:
    accounts = await members(r, args.connections)
    base = r.portal.gateway_url
    clients = [Lean(base, origin=base) for _ in accounts]  # no cookies: each login a new device
    logins = [
        client.prepare("POST", f"{API}/sessions", json.dumps({"email": email, "password": password}).encode())
        for client, (email, password) in zip(clients, accounts, strict=True)
    ]

    async def op(client: Lean, i: int) -> tuple[bool, int]:
        status = await client.send(logins[i])
        return status == 201, status

    # The anchor again, just before the window: a shared machine's pace moves within a run, and
    # the bound the logins are set against must be the one they meet.
    verify = argon2_verify_seconds()
    bound = os.cpu_count() / verify
    print(f"  argon2 verify (anchor)  {verify * 1000:.1f} ms CPU, just before → login bound {bound:.0f}/s")
    try:
        hashes, hash_seconds = await hashes_done(r)
        profilers = profile(r, args, "login")
        window, cpu = await closed_loop(clients, op, args.warmup, args.seconds, r.portal_pids())
        for profiler in profilers:
            profiler.wait(60)
        result = report("login", window, cpu, ("of the argon2 bound", bound))
        hashes_after, hash_seconds_after = await hashes_done(r)
        done = hashes_after - hashes
        # warm-up and the last ones in flight hash too: an upper estimate, about 1 when all is well
        print(f"  {'':22} argon2 per login ≤ {done / max(1, window.count):.2f}", end="")
        if done:
            inside = (hash_seconds_after - hash_seconds) / done
            print(f"; one inside accounts {inside * 1000:.1f} ms CPU = {ratio(inside, verify)} of the anchor's")
            # the same bound from what a hash cost inside accounts in the window itself
            by_inside = result["rps"] * inside / os.cpu_count()
            print(f"  {'':22} {by_inside:.2f}× of the bound that hash cost gives")
        else:
            print()
        return {**result, "bound": bound}
    finally:
        for client in clients:
            client.close()


# What the pipeline behind a registration did, from the services' /metrics (closed_loop's counters).
PIPELINE = {
    "published": ("accounts", "portal_events_published_total "),
    "taken_in": ("notifications", 'portal_events_handled_total{outcome="handled",subject="user.registered.v1"}'),
}


async def scenario_register(r: Rig, args: argparse.Namespace) -> dict:
    base = r.portal.gateway_url
    clients = [Lean(base, origin=base) for _ in range(args.connections)]

    async def op(client: Lean, _: int) -> tuple[bool, int]:
        body = json.dumps({**PERSON, "email": new_email("reg")}).encode()
        status = await client.send(client.prepare("POST", f"{API}/registrations", body))
        return status == 202, status

    try:
        profilers = profile(r, args, "register")

        async def counters() -> dict[str, float]:
            return await metric_sums(r, PIPELINE)

        window, cpu = await closed_loop(clients, op, args.warmup, args.seconds, r.portal_pids(), counters)
        for profiler in profilers:
            profiler.wait(60)
        result = report("register", window, cpu, ("of the 1,000/s target", TARGET_REGISTRATIONS_PER_S))
        # whether the outbox, notifications and the mail worker keep pace: their CPU counts per
        # registration only for the work they did in the window
        mails = len(r.mail.find(lambda m: window.start <= m.arrived < window.end))
        done = {name: window.counted[name] / args.seconds for name in PIPELINE}
        print(
            f"  {'':22} in the window, per second: events published {done['published']:.0f},"
            f" registrations taken in by notifications {done['taken_in']:.0f},"
            f" confirmation mails at the catcher {mails / args.seconds:.0f}"
        )
        return result
    finally:
        for client in clients:
            client.close()


async def scenario_confirm(r: Rig, args: argparse.Namespace, bound: float) -> dict:
    async with new_session(r.portal.gateway_url, 16) as prep:
        # enough for the whole run at the argon2 bound (confirm hashes the initial password)
        tokens = list((await confirmation_tokens(r, int(bound * (args.warmup + args.seconds) * 1.3), prep)).values())
    sessions = [new_session(r.portal.gateway_url) for _ in range(args.connections)]

    async def op(session: aiohttp.ClientSession, _: int) -> tuple[bool, int]:
        if not tokens:
            raise Exhausted()
        async with session.post(f"{API}/registrations/confirm", json={"token": tokens.pop()}) as response:
            await response.read()
            return response.status == 200, response.status

    try:
        window, cpu = await closed_loop(sessions, op, args.warmup, args.seconds, r.portal_pids())
        return report("confirm", window, cpu, ("of the argon2 bound", bound))
    finally:
        await asyncio.gather(*(s.close() for s in sessions))


async def import_businesses(r: Rig, n: int) -> list[str]:
    from datetime import UTC, datetime

    from runtime import db
    from services.pins.app import MIGRATIONS
    from services.pins.context import SCHEMA
    from services.pins.register import import_register
    from tests.bench.common import register_file

    pool = await db.create_pool(r.portal.database_url, SCHEMA, MIGRATIONS, max_size=2)
    try:
        await import_register(pool, register_file(n), datetime.now(UTC))
    finally:
        await pool.close()
    return [str(1_000_001 + i) for i in range(n)]


async def scenario_pins(r: Rig, args: argparse.Namespace, which: str) -> dict:
    """pin-request: each member asks for letters to businesses in turn (the monthly limits answer
    429 soon: the answers are printed); link: a wrong PIN each time (the refusal's path: the right
    PIN comes only by letter)."""
    numbers = await import_businesses(r, 2000)
    accounts = await members(r, args.connections)
    sessions = [new_session(r.portal.gateway_url) for _ in accounts]
    turn = iter(range(10**9))
    try:
        for session, (email, password) in zip(sessions, accounts, strict=True):
            assert (await log_in(session, email, password))[0]

        async def op(session: aiohttp.ClientSession, _: int) -> tuple[bool, int]:
            number = numbers[next(turn) % len(numbers)]
            if which == "pin-request":
                path, body, good = "/api/v1/pins/requests", {"betriebsnummer": number}, 202
            else:
                path, body, good = "/api/v1/pins/links", {"betriebsnummer": number, "pin": "00000000"}, 200
            async with session.post(path, json=body) as response:
                await response.read()
                return response.status == good, response.status

        window, cpu = await closed_loop(sessions, op, args.warmup, args.seconds, r.portal_pids())
        return report(which, window, cpu)
    finally:
        await asyncio.gather(*(s.close() for s in sessions))


async def login_storm(r: Rig, args: argparse.Namespace, me_alone: dict | None, peer_alone: dict | None) -> None:
    """`me` (and the peer's /users/me) while 4 members log in without pause: the share kept."""
    print("while 4 members log in continuously:")
    accounts = await members(r, args.connections + 4)
    loggers, readers = accounts[:4], accounts[4:]
    sessions = [new_session(r.portal.gateway_url) for _ in readers]
    login_sessions = [new_session(r.portal.gateway_url, cookies=False) for _ in loggers]
    stop = asyncio.Event()

    async def keep_logging_in(session: aiohttp.ClientSession, email: str, password: str) -> None:
        while not stop.is_set():
            with contextlib.suppress(aiohttp.ClientError):
                await log_in(session, email, password)

    try:
        for session, (email, password) in zip(sessions, readers, strict=True):
            assert (await log_in(session, email, password))[0]
        storm = [asyncio.create_task(keep_logging_in(s, *a)) for s, a in zip(login_sessions, loggers, strict=True)]
        window, cpu = await get_loop(args, r.portal.gateway_url, f"{API}/me", sessions, r.portal_pids())
        stop.set()
        await asyncio.gather(*storm)
        report("me + 4 logging in", window, cpu, ("of me alone", me_alone["rps"]) if me_alone else None)
    finally:
        await asyncio.gather(*(s.close() for s in [*sessions, *login_sessions]))
    if not r.peer_url:
        return
    peer_sessions = [new_session(r.peer_url) for _ in range(args.connections + 4)]
    stop.clear()
    try:
        emails = [await peer_member(s) for s in peer_sessions]

        async def peer_logging_in(session: aiohttp.ClientSession, email: str) -> None:
            while not stop.is_set():
                with contextlib.suppress(aiohttp.ClientError):
                    await peer_log_in(session, email)

        storm = [asyncio.create_task(peer_logging_in(s, e)) for s, e in zip(peer_sessions[:4], emails[:4], strict=True)]
        peer_pids = {"peer": family(r.peer.pid), "postgres": r.postgres_pids()}
        window, cpu = await get_loop(args, r.peer_url, "/users/me", peer_sessions[4:], peer_pids)
        stop.set()
        await asyncio.gather(*storm)
        report("peer + 4 logging in", window, cpu, ("of peer alone", peer_alone["rps"]) if peer_alone else None)
    finally:
        await asyncio.gather(*(s.close() for s in peer_sessions))


async def mail_latency(r: Rig, args: argparse.Namespace) -> None:
    """Registrations at a fixed arrival rate (open loop); registration sent → mail at the catcher."""
    n = int(args.rate * args.seconds)
    sent: dict[str, float] = {}
    arrived: dict[str, float] = {}
    refused = Counter()
    emails = [new_email("lat") for _ in range(n)]
    wanted = set(emails)

    async def watch() -> None:
        seen = 0
        while len(arrived) < len(sent) or len(sent) < n:
            messages = r.mail.messages
            for mail in messages[seen:]:
                if mail.to in wanted and "token=" in mail.text:
                    arrived.setdefault(mail.to, mail.received_at.timestamp())
            seen = len(messages)
            if len(arrived) < len(sent) or len(sent) < n:
                await r.mail.wait_beyond(seen, 1.0)  # a second at most: registrations still go out

    async with new_session(r.portal.gateway_url, 64) as session:
        watcher = asyncio.create_task(watch())
        started = time.perf_counter()

        async def one(i: int) -> None:
            await asyncio.sleep(max(0.0, started + i / args.rate - time.perf_counter()))
            sent[emails[i]] = time.time()
            status = await register(session, emails[i])
            if status != 202:
                refused[status] += 1

        await asyncio.gather(*(one(i) for i in range(n)))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(watcher, 30)
    latencies = sorted(arrived[e] - sent[e] for e in arrived)
    p99 = percentile(latencies, 99) * 1000
    print(
        f"  registration → mail at {args.rate:.0f}/s: {len(latencies)}/{n} arrived, "
        f"p50 {percentile(latencies, 50) * 1000:.0f}  p95 {percentile(latencies, 95) * 1000:.0f}  "
        f"p99 {p99:.0f} ms = {ratio(p99, TARGET_MAIL_P99_MS)} the 250 ms budget  refused {dict(refused)}"
    )


def rss_mb(pid: int) -> float:
    """Resident memory of pid, from /proc (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def memory(r: Rig, args: argparse.Namespace) -> None:
    """Each service's RSS before and after `--memory N` requests through the gateway: GET /me
    from signed-in members, and every 200th request a new login (new sessions in the gateway's
    cache and in accounts), so caches that grow without bound show."""
    services = ("gateway", "accounts", "pins", "notifications")
    before = {name: sum(rss_mb(p.pid) for p in r.portal.instances(name)) for name in services}
    accounts = await members(r, args.connections)
    sessions = [new_session(r.portal.gateway_url) for _ in accounts]
    done = 0
    started = time.perf_counter()
    try:
        for session, (email, password) in zip(sessions, accounts, strict=True):
            ok, status = await log_in(session, email, password)
            assert ok, status

        async def worker(i: int) -> None:
            nonlocal done
            email, password = accounts[i]
            while done < args.memory:
                done += 1
                if done % 200 == 0:
                    await log_in(sessions[i], email, password)
                else:
                    await get_ok(sessions[i], f"{API}/me")

        await asyncio.gather(*(worker(i) for i in range(len(sessions))))
    finally:
        await asyncio.gather(*(s.close() for s in sessions))
    seconds = time.perf_counter() - started
    print(f"memory after {done} requests ({done / seconds:.0f}/s; every 200th a login):")
    for name in services:
        after = sum(rss_mb(p.pid) for p in r.portal.instances(name))
        print(
            f"  {name:<14} RSS {after:6.1f} MB (before {before[name]:.1f} MB) = "
            f"{ratio(after, TARGET_RSS_MB)} its {TARGET_RSS_MB:g} MB"
        )


def print_budgets(result: dict) -> None:
    cpu = result["cpu_us"]
    print(
        f"  budgets: gateway {cpu['gateway']:.0f} µs = {ratio(cpu['gateway'], TARGET_GATEWAY_CPU_US)} its 80 µs; "
        f"accounts {cpu['accounts']:.0f} µs = {ratio(cpu['accounts'], TARGET_ACCOUNTS_CPU_US)} its 120 µs"
    )


async def main(args: argparse.Namespace) -> None:
    wanted = set(args.scenarios) if "all" not in args.scenarios else set(SCENARIOS) - {"all"}
    args.peer = bool(wanted & {"peer-me"}) or args.login_storm
    print(
        f"load: {os.cpu_count()} cores, -c {args.connections}, warm-up {args.warmup:g} s, window {args.seconds:g} s, "
        f"replicas {args.replicas}, NATS nodes {args.nats_nodes}, log level {args.log_level}, "
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}"
    )
    verify = argon2_verify_seconds()
    bound = os.cpu_count() / verify
    print(f"  argon2 verify (anchor)  {verify * 1000:.1f} ms CPU → login bound {bound:.0f}/s on {os.cpu_count()} cores")
    offered = argon2_parallel_rate(os.cpu_count())
    print(
        f"  argon2, {os.cpu_count()} threads        {offered:.0f} verifies/s = {ratio(offered, bound)} of the bound "
        "(what the machine offers now; below 1 when it is shared)"
    )
    async with rig(args) as r:
        for round_ in range(args.repeat):  # short windows repeated: a shared machine's noise shows
            if args.repeat > 1:
                print(f" round {round_ + 1} of {args.repeat}")
            bare = await bare_anchor(r, args)
            me = peer = None
            if "me" in wanted or args.login_storm:
                me = await scenario_me(r, args, bare)
                print_budgets(me)
            if "peer-me" in wanted or args.login_storm:
                peer = await scenario_peer_me(r, args, bare)
            if me and peer:
                print(
                    f"  our / peer: {ratio(me['rps'], peer['rps'])} (target {TARGET_ME_VS_PEER:g}×); "
                    f"p99 {me['p99_ms']:.1f} ms = {ratio(me['p99_ms'], TARGET_ME_P99_MS)} its 30 ms"
                )
        if "login" in wanted:
            login = await scenario_login(r, args)
            print(f"  login: {ratio(login['rps'], login['bound'] * TARGET_LOGIN_OF_BOUND)} of the 90 % target")
        if "confirm" in wanted:
            await scenario_confirm(r, args, bound)
        if "register" in wanted:
            await scenario_register(r, args)
        for which in ("pin-request", "link"):
            if which in wanted:
                await scenario_pins(r, args, which)
        if args.login_storm:
            await login_storm(r, args, me, peer)
        if args.mail_latency:
            await mail_latency(r, args)
        if args.memory:
            await memory(r, args)
        if args.hold:
            pids = {name: pids for name, pids in r.portal_pids().items()}
            print(f"  holding for {args.hold:g} s; pids {pids}", flush=True)
            await asyncio.sleep(args.hold)


SCENARIOS = ("me", "peer-me", "login", "register", "confirm", "pin-request", "link", "all")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.load", description=__doc__.splitlines()[0])
    # checked below, not with `choices`: Python 3.11's argparse refuses an empty nargs="*" against them
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO", help=f"{', '.join(SCENARIOS)} (me peer-me)")
    parser.add_argument("-c", "--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window (10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up before the window (2)")
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--nats-nodes", type=int, choices=(1, 3), default=1)
    parser.add_argument("--peer-workers", type=int, default=2)
    parser.add_argument("--mail-latency", action="store_true", help="registration → mail at --rate")
    parser.add_argument("--rate", type=float, default=50.0, help="registrations per second for --mail-latency")
    parser.add_argument("--login-storm", action="store_true", help="me while 4 members log in (and the peer)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of bare, me and peer-me (1)")
    parser.add_argument("--profile", type=Path, help="py-spy the gateway and accounts during `me` into DIR")
    parser.add_argument("--memory", type=int, default=0, help="RSS of each service after this many requests")
    parser.add_argument("--hold", type=float, default=0.0, help="keep the portal up this long at the end")
    parser.add_argument(
        "--log-level",
        default="WARNING",
        help="the portal's PORTAL_LOG_LEVEL (WARNING: no access lines, as the peer writes none; INFO as deployed)",
    )
    args = parser.parse_args(argv)
    if unknown := set(args.scenarios) - set(SCENARIOS):
        parser.error(f"unknown scenario {', '.join(sorted(unknown))}; choose from {', '.join(SCENARIOS)}")
    args.scenarios = args.scenarios or ["me", "peer-me"]
    return args


async def until_stopped(args: argparse.Namespace) -> None:
    """main, cancelled by SIGTERM or SIGINT: its cleanup stops the portal, the peer and Postgres it
    started (killed outright, they would stay running)."""
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await main(args)


if __name__ == "__main__":
    asyncio.run(until_stopped(parse_args()))
