"""The two commands for a fresh machine with Python 3.11+ and git (standard library only).

    python3 tasks.py run    # the whole portal on this machine (deploy/run.py), Ctrl-C stops it
    python3 tasks.py test   # every test (pytest); extra arguments go to pytest

Both create .venv if it is missing and install the project into it when pyproject.toml changed
since the last install.
"""

import hashlib
import os
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


def ensure_system_packages() -> None:
    """Packages from the operating system that the tests need.

    The browser tests will install Chromium here (`apt-get install -y chromium`), only when it
    is missing. Nothing yet.
    """


def run(args: list[str]) -> int:
    ensure_venv()
    os.chdir(ROOT)
    # replace this process, so Ctrl-C and SIGTERM reach the runner directly
    os.execv(PYTHON, [str(PYTHON), "-m", "deploy.run", *args])


def test(args: list[str]) -> int:
    ensure_venv()
    ensure_system_packages()
    code = subprocess.run([str(PYTHON), "-m", "pytest", *args], cwd=ROOT).returncode
    if code == PYTEST_NO_TESTS:
        say("pytest collected no tests: that counts as a failure")
        return 1
    return code


COMMANDS = {"run": run, "test": test}


def main() -> int:
    if sys.version_info < (3, 11):
        sys.exit("Python 3.11 or newer is needed.")
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: python3 {Path(__file__).name} {{run|test}} [arguments]\n\n{__doc__}")
    try:
        return COMMANDS[sys.argv[1]](sys.argv[2:])
    except subprocess.CalledProcessError as error:
        say(f"failed: {' '.join(map(str, error.cmd))}")
        return error.returncode or 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
