"""Session-wide servers (NATS, Postgres, the mail catcher) and whole portals for tests.

Logs of everything a test starts land in test-output/<test or module>/ (gitignored).
"""

import re
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `pytest` without `python -m`: make `tests.support` importable
    sys.path.insert(0, str(ROOT))

from deploy.infra import NatsServer, Postgres  # noqa: E402
from deploy.mailcatcher import MailCatcher  # noqa: E402
from tests.support.portal import Portal, start_portal  # noqa: E402

OUTPUT = ROOT / "test-output"
_SESSION_SERVERS: list = []  # brought back up after a test that stopped one and failed


def _output_dir(name: str) -> Path:
    """test-output/<name>, emptied; `integration/test_x.py::test_y[a]` -> integration.test_x.test_y_a"""
    name = name.removeprefix("tests/").replace(".py::", "::").removesuffix(".py").replace("/", ".")
    path = OUTPUT / re.sub(r"[^\w.-]+", "_", name.replace("::", ".")).strip("_")
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


@pytest.fixture
def test_output(request: pytest.FixtureRequest) -> Path:
    """A fresh folder for this test's logs: test-output/<test id>/."""
    return _output_dir(request.node.nodeid)


@pytest.fixture(scope="session")
async def nats_server():
    """One NATS (JetStream) for the session, for services run in the test's process: plain, no
    users (the portals' NATS has them), with the streams and durables ops would make (services
    only bind). `await nats_server.restart()` keeps its streams."""
    store = Path(tempfile.mkdtemp(prefix="kp-nats-"))
    server = NatsServer(store / "jetstream", log_path=_output_dir("session") / "nats.log")
    await server.start()
    await server.ensure_streams()
    _SESSION_SERVERS.append(server)
    yield server
    _SESSION_SERVERS.remove(server)
    await server.stop()
    shutil.rmtree(store, ignore_errors=True)


@pytest.fixture(scope="session")
async def postgres():
    """One embedded Postgres for the session; each portal or test creates its own database."""
    data = Path(tempfile.mkdtemp(prefix="kp-pg-"))
    server = Postgres(data / "data", durable=False)
    await server.start()
    _SESSION_SERVERS.append(server)
    yield server
    _SESSION_SERVERS.remove(server)
    await server.stop()
    shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="session")
async def mail():
    """The mail catcher (SMTP and web inbox on free ports); `mail.stop_smtp()` simulates an outage."""
    catcher = MailCatcher()
    await catcher.start()
    _SESSION_SERVERS.append(catcher)
    yield catcher
    _SESSION_SERVERS.remove(catcher)
    await catcher.stop()


@pytest.fixture(autouse=True)
async def _session_servers_back_up():
    yield
    for server in _SESSION_SERVERS:
        if not server.running:
            await server.start()


@pytest.fixture(scope="module")
async def portal(request: pytest.FixtureRequest, postgres, mail):
    """All four services for the tests of one module (they make their own random ids)."""
    log_dir = _output_dir(str(request.node.path.relative_to(ROOT / "tests")))
    started = await start_portal(postgres=postgres, mail=mail, log_dir=log_dir)
    yield started
    await started.stop()


@pytest.fixture
async def portal_factory(postgres, mail, test_output):
    """`await portal_factory(services=[...], env={...})` for a test that needs its own portal."""
    portals: list[Portal] = []

    async def make(**kwargs) -> Portal:
        kwargs.setdefault("log_dir", test_output / f"portal-{len(portals) + 1}")
        started = await start_portal(postgres=postgres, mail=mail, **kwargs)
        portals.append(started)
        return started

    yield make
    for started in reversed(portals):
        await started.stop()
