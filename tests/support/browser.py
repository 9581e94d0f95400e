"""Browser end-to-end helpers: Debian's Chromium driven by Playwright, screenshots of every
step, axe-core scans, the print shop process and the business register import.

Chromium is the system's (`/usr/bin/chromium`, `apt-get install -y chromium` in `tasks.py test`);
Playwright's own browser download (`playwright install`) is never used. axe-core comes from npm
into tests/browser/.axe/ (also installed by `tasks.py test`).
"""

import contextlib
import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator
from io import BytesIO
from pathlib import Path

from playwright.async_api import Browser, Page, async_playwright
from pypdf import PdfReader

from deploy.infra import ROOT, PrintShopProcess, free_port, start_services, stop_services

CHROMIUM = Path("/usr/bin/chromium")
# This machine's network is closed: nothing may phone home or wait on a blocked connection.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE_SCRIPT = ROOT / "tests" / "browser" / ".axe" / "node_modules" / "axe-core" / "axe.min.js"
MOBILE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 900}
REGISTER_HEADER = "Betriebsnummer;Name;Straße;PLZ;Ort;E-Mail;Gewerk"
# The PIN as the letter prints it (deploy/printshop/letter.py format_pin): `ABCD-EFGH`.
PIN_IN_LETTER = re.compile(r"(?<![\w-])([A-Z0-9]{4}-[A-Z0-9]{4})(?![\w-])")


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        raise RuntimeError(
            f"{CHROMIUM} is missing: `python3 tasks.py test` installs it (apt-get install -y chromium, as root)"
        )
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


class Steps:
    """Numbered full-page screenshots: `await steps("login")` -> <folder>/03-login.png."""

    def __init__(self, page: Page, folder: Path) -> None:
        self.page = page
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count = 0

    async def __call__(self, name: str, page: Page | None = None) -> Path:
        self.count += 1
        slug = re.sub(r"[^\w.-]+", "-", name).strip("-")
        path = self.folder / f"{self.count:02d}-{slug}.png"
        await (page or self.page).screenshot(path=str(path), full_page=True)
        return path


def axe_source() -> str:
    if not AXE_SCRIPT.exists():
        raise RuntimeError(
            f"{AXE_SCRIPT} is missing: `python3 tasks.py test` installs it "
            "(npm install --prefix tests/browser/.axe axe-core@4)"
        )
    return AXE_SCRIPT.read_text(encoding="utf-8")


async def run_axe(page: Page, source: str) -> list[dict]:
    """axe-core's violations on the current page (WCAG 2.x A/AA and best practices).

    The script goes in through the DevTools protocol (`page.evaluate`), which the page's
    Content-Security-Policy (`script-src 'self'`) does not govern; `add_script_tag(content=…)`
    would be an inline script and is refused by that policy, as it should be.
    """
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.evaluate(f"() => {{ {source}\n;window.axe = axe; }}")
    result = await page.evaluate(
        """async () => {
            const r = await window.axe.run(document, {resultTypes: ['violations']});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                helpUrl: v.helpUrl, nodes: v.nodes.map(n => ({target: n.target,
                html: n.html.slice(0, 200), summary: n.failureSummary}))}));
        }"""
    )
    return result


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"  [{v['impact']}] {v['id']}: {v['help']} ({len(v['nodes'])}×) {v['helpUrl']}")
        for node in v["nodes"][:5]:
            lines.append(f"      {node['target']}: {node['html']}")
    return "\n".join(lines)


async def scroll_width(page: Page) -> int:
    return await page.evaluate("() => document.documentElement.scrollWidth")


# --- the register and the print shop --------------------------------------------------------


def new_betriebsnummer() -> str:
    return str(secrets.randbelow(10**9) + 10**9)


def import_businesses(portal, rows: list[str], folder: Path) -> None:
    """`python -m services.pins import-businesses FILE.csv`, as the chamber does."""
    path = Path(folder) / f"register-{secrets.token_hex(3)}.csv"
    path.write_text("\n".join([REGISTER_HEADER, *rows]) + "\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update(portal.env["pins"])
    result = subprocess.run(
        [sys.executable, "-m", "services.pins", "import-businesses", str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"import failed:\n{result.stdout}{result.stderr}"


@contextlib.asynccontextmanager
async def running_printshop(portal, folder: Path) -> AsyncIterator[PrintShopProcess]:
    """`python -m deploy.printshop` on the portal's NATS with the print shop's private key;
    letters land in <folder>/letters/<request_id>.pdf (+ .json), its log in <folder>."""
    env = {
        **portal.nats.printshop_env(),  # the printshop user, over TLS
        "PRINTSHOP_PRIVATE_KEY": portal.printshop_private_key,
        "PRINTSHOP_OUTPUT_DIR": str(Path(folder) / "letters"),
        "PRINTSHOP_PORTAL_URL": portal.gateway_url,
        "PRINTSHOP_LOG_LEVEL": "INFO",
    }
    shop = PrintShopProcess(env, free_port(), Path(folder))
    await start_services([shop], 60)
    try:
        yield shop
    finally:
        await stop_services([shop])


def letters_for(shop: PrintShopProcess, number: str) -> list[Path]:
    """The PDFs the print shop wrote for this Betriebsnummer (by its <request_id>.json)."""
    folder = Path(shop.env["PRINTSHOP_OUTPUT_DIR"])
    found = []
    for meta in folder.glob("*.json"):
        pdf = meta.with_suffix(".pdf")
        try:
            if json.loads(meta.read_text()).get("betriebsnummer") == number and pdf.exists():
                found.append(pdf)
        except (OSError, ValueError):
            continue
    return found


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(BytesIO(data)).pages)


def pin_from_letter(text: str) -> str:
    """The PIN as a person reads it from the letter: the one code `ABCD-EFGH` (after "Ihre PIN")."""
    assert "Ihre PIN" in text, text
    found = set(PIN_IN_LETTER.findall(text))
    assert len(found) == 1, f"expected one PIN in the letter, found {sorted(found)}:\n{text}"
    return found.pop()


# --- pages and people --------------------------------------------------------------------------

# Every page a visitor reaches (path, expected HTTP status) and every page of a logged-in member.
VISITOR_PAGES = [
    ("/", 200),
    ("/registrieren", 200),
    ("/registrieren/gesendet", 200),
    ("/registrierung/bestaetigen?token=x", 200),
    ("/login", 200),
    ("/hilfe", 200),
    ("/passwort-vergessen", 200),
    ("/passwort-zuruecksetzen?token=x", 200),
    ("/kontakt", 200),
    ("/gibt-es-nicht", 404),
]
MEMBER_PAGES = [
    ("/konto", 200),
    ("/passwort-aendern", 200),
    ("/mein-betrieb", 200),
    ("/mein-betrieb/pin-anfordern", 200),
    ("/mein-betrieb/verknuepfen", 200),
    ("/konto-loeschen", 200),
]


async def log_in(page: Page, email: str, password: str) -> None:
    """Fill the login form (already open) by its labels and press "Login"."""
    await page.get_by_label("E-Mail-Adresse", exact=True).fill(email)
    await page.get_by_label("Passwort", exact=True).fill(password)
    await page.get_by_role("button", name="Login", exact=True).click()


async def typed_date(browser: Browser, day: int, month: int, year: int) -> str:
    """The keys a person types into a date field: its segments follow the browser's own
    language (Debian's Chromium without chromium-l10n shows MM/DD/YYYY; German TT.MM.JJJJ),
    which a context's `locale` does not change. Probed in a context without a locale."""
    context = await browser.new_context()
    try:
        language = await (await context.new_page()).evaluate("() => navigator.language")
    finally:
        await context.close()
    if language.lower() in {"en-us", "en"}:
        return f"{month:02d}{day:02d}{year:04d}"
    return f"{day:02d}{month:02d}{year:04d}"
