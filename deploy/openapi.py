"""`python -m deploy.openapi [--check]`: write (or check) contracts/schemas/openapi.json, the
public API's OpenAPI document, from the endpoint lists of the services (runtime/openapi.py)."""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from runtime.openapi import document
from services.accounts.http import ENDPOINTS as ACCOUNTS
from services.notifications.http import ENDPOINTS as NOTIFICATIONS
from services.pins.http import ENDPOINTS as PINS

PATH = Path(__file__).resolve().parent.parent / "contracts" / "schemas" / "openapi.json"


def build() -> dict[str, Any]:
    return document({"accounts": ACCOUNTS, "pins": PINS, "notifications": NOTIFICATIONS})


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.openapi", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed document is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        stale = not PATH.exists() or PATH.read_text(encoding="utf-8") != text
        print(f"{PATH}: {'stale: run python -m deploy.openapi' if stale else 'up to date'}")
        return 1 if stale else 0
    PATH.write_text(text, encoding="utf-8")
    print(f"wrote {PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
