""" "Briefe der Druckerei": a small German page listing the printed letters, for trying the
portal locally (the PIN arrives "by post" here). Also /healthz and /readyz.

Bind it to 127.0.0.1 only: the letters carry PINs.
"""

import html
import json
import re
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

UUID_PDF = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.pdf$")
REASONS = {"user_request": "im Portal angefordert", "annual_notice": "mit dem Beitragsbescheid"}

PAGE = """<!doctype html>
<html lang="de"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="5">
<title>Briefe der Druckerei</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem;
       color: #222; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #ddd; }}
.hint {{ color: #555; }}
</style></head>
<body>
<h1>Briefe der Druckerei</h1>
<p class="hint">Hier landen die PIN-Briefe, die im echten Betrieb per Post an die Betriebsadresse
gehen. Die Seite aktualisiert sich alle 5 Sekunden; der neueste Brief steht oben.</p>
{content}
</body></html>
"""


def _rows(folder: Path) -> list[dict]:
    letters = sorted(folder.glob("*.pdf"), key=lambda p: p.stat().st_mtime, reverse=True)
    rows = []
    for pdf in letters:
        if not UUID_PDF.match(pdf.name):
            continue
        meta: dict = {}
        try:
            meta = json.loads(pdf.with_suffix(".json").read_text())
        except (OSError, ValueError):
            pass
        rows.append({"file": pdf.name, **meta})
    return rows


def render_index(folder: Path) -> str:
    rows = _rows(folder) if folder.exists() else []
    if not rows:
        return PAGE.format(content="<p>Noch keine Briefe gedruckt.</p>")
    e = html.escape
    body = "".join(
        "<tr>"
        f"<td>{e(_german_time(r.get('printed_at', '')))}</td>"
        f"<td>{e(r.get('business_name', '–'))}</td>"
        f"<td>{e(r.get('betriebsnummer', '–'))}</td>"
        f"<td>{e(REASONS.get(r.get('reason', ''), '–'))}</td>"
        f'<td><a href="briefe/{e(r["file"])}">PIN-Brief öffnen (PDF)</a></td>'
        "</tr>"
        for r in rows
    )
    table = (
        "<table><thead><tr><th>Gedruckt</th><th>Betrieb</th><th>Betriebsnummer</th>"
        f"<th>Anlass</th><th>Brief</th></tr></thead><tbody>{body}</tbody></table>"
    )
    return PAGE.format(content=table)


def _german_time(value: str) -> str:
    """'2025-11-26T14:07:13+01:00' -> '26.11.2025 14:07'"""
    match = re.match(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}:\d{2})", value)
    return f"{match[3]}.{match[2]}.{match[1]} {match[4]}" if match else "–"


def create_app(folder: Path, ready: Callable[[], bool]) -> web.Application:
    folder = Path(folder)

    async def index(_request: web.Request) -> web.Response:
        return web.Response(text=render_index(folder), content_type="text/html", charset="utf-8")

    async def letter(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        path = folder / name
        if not UUID_PDF.match(name) or not path.is_file():
            raise web.HTTPNotFound(text="Diesen Brief gibt es nicht.")
        return web.FileResponse(path, headers={"Content-Type": "application/pdf", "Cache-Control": "no-store"})

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_request: web.Request) -> web.Response:
        ok = ready()
        return web.json_response({"status": "ok" if ok else "starting"}, status=200 if ok else 503)

    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_get("/briefe/{name}", letter)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app
