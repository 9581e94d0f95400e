"""The two commands for a fresh machine with Python 3.11+ and git (standard library only).

    python3 tasks.py run    # the whole portal on this machine (deploy/run.py), Ctrl-C stops it
    python3 tasks.py test   # every test (pytest); extra arguments go to pytest

and, while `run` runs, `python3 tasks.py manage SERVICE COMMAND …` for a service's command line
(create-staff, import-businesses, …) against the local portal.

Both create .venv if it is missing and install the project into it when pyproject.toml changed
since the last install.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".kundenportal-installed"
PYTEST_NO_TESTS = 5


def say(text: str) -> None:
    print(f"[tasks] {text}", flush=True)


def ensure_venv() -> None:
    if not PYTHON.exists():
        say(f"creating {VENV}")
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    say("installing the project and its test dependencies into .venv")
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "-e", ".[test]"], cwd=ROOT, check=True)
    STAMP.write_text(wanted + "\n")


CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "tests" / "browser" / ".axe"
AXE_SCRIPT = AXE / "node_modules" / "axe-core" / "axe.min.js"


def ensure_system_packages() -> None:
    """What the browser tests need from outside PyPI, installed only when missing.

    - Debian's Chromium (`apt-get install -y chromium`), driven by Playwright: never a
      downloaded browser (`playwright install` is not used).
    - axe-core from npm into tests/browser/.axe/ (gitignored), injected into pages by the
      accessibility tests.
    A failure here is reported, not fatal: the browser tests then fail with the same message.
    """
    if not CHROMIUM.exists():
        if shutil.which("apt-get") is None:
            say(f"{CHROMIUM} is missing and there is no apt-get: install Chromium for the browser tests")
        elif os.geteuid() != 0:
            say(
                f"{CHROMIUM} is missing: run `sudo apt-get update && sudo apt-get install -y chromium` "
                "(the browser tests need it; this command installs it only as root)"
            )
        else:
            say("installing Chromium for the browser tests (apt-get install -y chromium)")
            apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            if (
                subprocess.run(["apt-get", "update"], env=apt_env).returncode
                or subprocess.run(["apt-get", "install", "-y", "chromium"], env=apt_env).returncode
            ):
                say("installing Chromium failed (see above): the browser tests will fail")
    if not AXE_SCRIPT.exists():
        if shutil.which("npm") is None:
            say(
                f"npm is missing: the accessibility tests need axe-core in {AXE_SCRIPT.parent} "
                "(install Node.js and npm, e.g. `apt-get install -y npm`)"
            )
        else:
            say(f"installing axe-core for the accessibility tests into {AXE.relative_to(ROOT)}/")
            if subprocess.run(
                ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(AXE), "axe-core@4"], cwd=ROOT
            ).returncode:
                say("installing axe-core failed (see above): the accessibility tests will fail")


def run(args: list[str]) -> int:
    ensure_venv()
    os.chdir(ROOT)
    # replace this process, so Ctrl-C and SIGTERM reach the runner directly
    os.execv(PYTHON, [str(PYTHON), "-m", "deploy.run", *args])


def lint() -> int:
    """ruff: lint and format check, before any test starts (`ruff check --fix . && ruff format .` mends)."""
    for command in (["check", "."], ["format", "--check", "."]):
        if subprocess.run([str(PYTHON), "-m", "ruff", *command], cwd=ROOT).returncode:
            say(f"ruff {' '.join(command)} failed: run `.venv/bin/ruff check --fix . && .venv/bin/ruff format .`")
            return 1
    return 0


def test(args: list[str]) -> int:
    ensure_venv()
    if lint():
        return 1
    ensure_system_packages()
    code = subprocess.run([str(PYTHON), "-m", "pytest", *args], cwd=ROOT).returncode
    if code == PYTEST_NO_TESTS:
        say("pytest collected no tests: that counts as a failure")
        return 1
    return code


def manage(args: list[str]) -> int:
    """A service's command line against the portal `run` started, e.g. `manage accounts create-staff …`."""
    ensure_venv()
    os.chdir(ROOT)
    os.execv(PYTHON, [str(PYTHON), "-m", "deploy.manage", *args])


COMMANDS = {"run": run, "test": test, "manage": manage}


def main() -> int:
    if sys.version_info < (3, 11):
        sys.exit("Python 3.11 or newer is needed.")
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: python3 {Path(__file__).name} {{run|test|manage}} [arguments]\n\n{__doc__}")
    try:
        return COMMANDS[sys.argv[1]](sys.argv[2:])
    except subprocess.CalledProcessError as error:
        say(f"failed: {' '.join(map(str, error.cmd))}")
        return error.returncode or 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
