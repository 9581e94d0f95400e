"""What ops and the chamber's staff run beside a test portal: a service's command line."""

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Done:
    returncode: int
    output: str  # stdout and stderr together


async def run_command(service: str, env: dict[str, str], *args: str) -> Done:
    """`python -m services.<service> …` with exactly the given PORTAL_* variables."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        f"services.{service}",
        *args,
        env={**base, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    return Done(process.returncode, output.decode())


async def import_businesses(portal, numbers: list[str], path: Path) -> None:
    """`python -m services.pins import-businesses FILE.csv`: one business per Betriebsnummer."""
    rows = [f"{n};Malerei Müller GmbH;Hauptstraße 1;65183;Wiesbaden;info@mueller.de;Maler" for n in numbers]
    path.write_text("Betriebsnummer;Name;Straße;PLZ;Ort;E-Mail;Gewerk\n" + "\n".join(rows) + "\n", encoding="utf-8")
    done = await run_command("pins", {"PORTAL_DATABASE_URL": portal.database_url}, "import-businesses", str(path))
    assert done.returncode == 0, done.output
