"""`python3 tasks.py manage SERVICE …` runs a service's command line with the environment the
local runner gave that service."""

import json
import subprocess
import sys

import pytest

from deploy.infra import ROOT
from deploy.manage import env_file, environment, main


def test_the_runners_environment_is_read_back(tmp_path) -> None:
    env_file(tmp_path, "pins").parent.mkdir()
    env_file(tmp_path, "pins").write_text(json.dumps({"PORTAL_PINS_SECRET": "x"}))
    assert environment(tmp_path, "pins") == {"PORTAL_PINS_SECRET": "x"}


def test_without_a_running_portal_it_says_what_to_do(tmp_path) -> None:
    with pytest.raises(SystemExit, match="start the portal first"):
        main(["accounts", "--help"], var=tmp_path)


def test_only_the_services_with_a_command_line(tmp_path) -> None:
    with pytest.raises(SystemExit, match="usage"):
        main(["gateway"], var=tmp_path)


def test_the_service_command_runs(tmp_path) -> None:
    env_file(tmp_path, "pins").parent.mkdir()
    env_file(tmp_path, "pins").write_text(json.dumps({"PORTAL_LOG_LEVEL": "DEBUG"}))
    script = (
        f"from pathlib import Path; from deploy.manage import main; main(['pins', '--help'], Path({str(tmp_path)!r}))"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "import-businesses" in done.stdout
