"""`python -m deploy.openapi [--check]`: write (or check) contracts/schemas/openapi.json, the
public API's OpenAPI document, from the endpoint lists of the services (runtime/openapi.py)."""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import AwareDatetime, BaseModel

from runtime.api import Endpoint
from runtime.openapi import document
from services.accounts.http import ENDPOINTS as ACCOUNTS
from services.accounts.member_data import AccountsExportOut
from services.gateway import member_data
from services.notifications.http import ENDPOINTS as NOTIFICATIONS
from services.notifications.member_data import NotificationsExportOut
from services.pins.http import ENDPOINTS as PINS
from services.pins.member_data import PinsExportOut

PATH = Path(__file__).resolve().parent.parent / "contracts" / "schemas" / "openapi.json"


class ExportOut(BaseModel):
    """Meine Daten herunterladen: everything every service holds about the member, in one file.
    Described here, where every service's part may be named; the gateway only joins the parts."""

    exported_at: AwareDatetime
    accounts: AccountsExportOut
    pins: PinsExportOut
    notifications: NotificationsExportOut


# The gateway's own API: it joins the services' answers and has no endpoint list of its own.
GATEWAY = (
    Endpoint(
        "GET",
        member_data.EXPORT_PATH,
        member_data.export,
        "Meine Daten herunterladen: one JSON file (an attachment) with every service's part",
        answer=ExportOut,
        session=True,
    ),
)


def build() -> dict[str, Any]:
    return document({"accounts": ACCOUNTS, "pins": PINS, "notifications": NOTIFICATIONS, "portal": GATEWAY})


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
