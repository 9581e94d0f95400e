"""`python -m deploy.manage SERVICE COMMAND …`: a service's command line (`python -m services.<name>
…`: create-staff, import-businesses, dead-letters, outbox replay …) against the portal the local
runner started, with that service's environment as the runner gave it (var/env/<service>.json).

In production ops run `python -m services.<name> …` in the service's own container, which has
its environment already; this is the same for `python3 tasks.py run`.
"""

import json
import os
import sys
from pathlib import Path

from deploy.infra import ROOT

SERVICES = ("accounts", "pins", "notifications")
USAGE = f"usage: python -m deploy.manage {{{'|'.join(SERVICES)}}} COMMAND [ARGUMENTS …]  (--help lists the commands)"


def env_file(var: Path, service: str) -> Path:
    return var / "env" / f"{service}.json"


def environment(var: Path, service: str) -> dict[str, str]:
    path = env_file(var, service)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SystemExit(f"{path} is missing: start the portal first (python3 tasks.py run)") from None


def main(argv: list[str] | None = None, var: Path = ROOT / "var") -> None:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in SERVICES:
        raise SystemExit(USAGE)
    service, rest = args[0], args[1:]
    env = {**os.environ, **environment(var, service)}
    os.execvpe(sys.executable, [sys.executable, "-m", f"services.{service}", *rest], env)


if __name__ == "__main__":
    main()
