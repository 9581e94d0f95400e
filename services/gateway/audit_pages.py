"""/intern/protokoll: the staff actions of accounts and pins, one list newest first, read-only.

Each service keeps its own audit table with its own ids, so a page asks each for the entries before
its own cursor and shows the newest of both; "Ältere Einträge" carries one cursor per service.
`merge` is the rule (no I/O); the view only fetches and renders."""

import asyncio
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from aiohttp import web

from runtime.german import german_datetime
from services.gateway import upstream
from services.gateway.access import LOGIN_PAGE
from services.gateway.rendering import render
from services.gateway.sessions import forget_session
from services.gateway.staff_access import staff_required
from services.gateway.upstream import ACCOUNTS_API, PINS_API

AUDIT_PAGE = "/intern/protokoll"
PAGE_SIZE = 50
SOURCES = {"accounts": ACCOUNTS_API + "/staff/audit", "pins": PINS_API + "/staff/audit"}
SOURCE_LABELS = {"accounts": "Konten", "pins": "Betriebe"}


def add_routes(app: web.Application) -> None:
    app.router.add_get(AUDIT_PAGE, audit)


@dataclass(frozen=True)
class Page:
    entries: list[dict]
    # The cursor of the next page per service (None: from the newest), or None when nothing is older.
    older: dict[str, int | None] | None


def _moment(entry: dict) -> datetime:
    return datetime.fromisoformat(str(entry["at"]))


def merge(fetched: dict[str, list[dict]], cursors: dict[str, int | None], limit: int) -> Page:
    """The newest `limit` of every service's entries (each list: that service's newest before its
    cursor, at most `limit`), and where each service's next page starts."""
    tagged = [(service, {**entry, "service": service}) for service, entries in fetched.items() for entry in entries]
    tagged.sort(key=lambda pair: (_moment(pair[1]), pair[1]["id"]), reverse=True)
    shown = tagged[:limit]
    more = len(tagged) > limit or any(len(entries) >= limit for entries in fetched.values())
    if not more:
        return Page([entry for _, entry in shown], None)
    older = dict(cursors)
    for service, entry in shown:
        current = older.get(service)
        older[service] = entry["id"] if current is None else min(current, entry["id"])
    return Page([entry for _, entry in shown], older)


def cursors_from(query) -> dict[str, int | None]:
    found: dict[str, int | None] = {}
    for service in SOURCES:
        value = query.get(service, "")
        found[service] = int(value) if value.isdigit() else None
    return found


def older_link(older: dict[str, int | None]) -> str:
    return AUDIT_PAGE + "?" + urlencode({service: cursor for service, cursor in older.items() if cursor is not None})


def _path(service: str, cursor: int | None) -> str:
    query = {"limit": PAGE_SIZE} | ({"before": cursor} if cursor is not None else {})
    return f"{SOURCES[service]}?{urlencode(query)}"


@staff_required
async def audit(request: web.Request) -> web.Response:
    cursors = cursors_from(request.query)
    answers = dict(
        zip(
            SOURCES,
            await asyncio.gather(*(upstream.call(request, "GET", s, _path(s, cursors[s])) for s in SOURCES)),
            strict=True,
        )
    )
    if any(answer.status == 401 for answer in answers.values()):
        forget_session(request)
        raise web.HTTPSeeOther(LOGIN_PAGE)
    fetched = {service: list(answer.body.get("entries") or []) for service, answer in answers.items() if answer.ok}
    missing = [SOURCE_LABELS[service] for service, answer in answers.items() if not answer.ok]
    # A service that could not answer keeps its cursor: none of its entries is skipped.
    page = merge(fetched, cursors, PAGE_SIZE)
    names = answers["accounts"].body.get("staff") or {} if answers["accounts"].ok else {}
    return render(
        request,
        "intern_audit.html",
        entries=page.entries,
        older=older_link(page.older) if page.older else None,
        newest=any(cursor is not None for cursor in cursors.values()),
        missing=missing,
        names=names,
        when=german_datetime,
        source_label=lambda service: SOURCE_LABELS.get(str(service), str(service)),
    )
