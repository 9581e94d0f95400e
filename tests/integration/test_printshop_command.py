"""The print shop's command line behaves like a command: --help explains itself and starts nothing."""

import os
import subprocess
import sys

import pytest

from deploy.infra import ROOT

pytestmark = pytest.mark.integration


def test_help_explains_and_starts_nothing() -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "PRINTSHOP_"))}
    done = subprocess.run(
        [sys.executable, "-m", "deploy.printshop", "--help"],
        cwd=ROOT,
        env=base,  # no PRINTSHOP_* at all: it would refuse to start
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "python -m deploy.printshop" in done.stdout and "PRINTSHOP_NATS_URL" in done.stdout
