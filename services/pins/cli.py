"""`python -m services.pins <command>`: the chamber staff's jobs. Each reads only the settings it
needs; the schema is created and migrated first, as the service would.

  import-businesses FILE.csv [--full] [--dry-run] [--max-delete N|P%] [--force]
                                        the business register; --full deletes what is missing
                                        (at most --max-delete, default 5 %, unless --force);
                                        --dry-run says what would change and applies nothing
  issue-annual-pins [--year YYYY]       one PIN letter per active business, once a year; exits 1
                                        when it skipped a business whose data fit no letter
"""

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from runtime import db
from runtime.cli import Command
from runtime.settings import load_settings
from services.pins import annual, domain
from services.pins.context import SCHEMA
from services.pins.register import DEFAULT_MAX_DELETE, MaxDelete, RegisterInvalid, TooManyDeletions, import_register
from services.pins.settings import LetterSettings, RegisterSettings

MIGRATIONS = Path(__file__).parent / "migrations"
MAX_PROBLEMS_SHOWN = 200


async def import_businesses(args: argparse.Namespace) -> int:
    file, full = args.file, args.full
    max_delete = None if args.force else args.max_delete
    settings = load_settings(RegisterSettings, "pins")
    try:
        data = file.read_bytes()
    except OSError as error:
        print(f"Datei nicht lesbar / cannot read file: {error}", file=sys.stderr)
        return 2
    pool = await db.create_pool(settings.database_url.get_secret_value(), SCHEMA, MIGRATIONS, max_size=2)
    try:
        summary = await import_register(
            pool, data, datetime.now(UTC), full=full, dry_run=args.dry_run, max_delete=max_delete
        )
    except RegisterInvalid as invalid:
        for problem in invalid.problems[:MAX_PROBLEMS_SHOWN]:
            print(problem, file=sys.stderr)
        if len(invalid.problems) > MAX_PROBLEMS_SHOWN:
            print(f"… und {len(invalid.problems) - MAX_PROBLEMS_SHOWN} weitere Fehler.", file=sys.stderr)
        print(f"Nichts importiert / nothing imported: {len(invalid.problems)} fehlerhafte Zeile(n).", file=sys.stderr)
        return 1
    except TooManyDeletions as refused:
        print(_too_many(refused), file=sys.stderr)
        return 1
    finally:
        await pool.close()
    print("\n".join(summary.lines()))
    return 0


def _too_many(refused: TooManyDeletions) -> str:
    shown = ", ".join(refused.deleting[:MAX_PROBLEMS_SHOWN])
    more = f" … (+{len(refused.deleting) - MAX_PROBLEMS_SHOWN})" if len(refused.deleting) > MAX_PROBLEMS_SHOWN else ""
    return (
        f"Nichts importiert: Die Datei würde {len(refused.deleting)} von {refused.active} aktiven Betrieben löschen, "
        f"erlaubt sind {refused.limit} (--max-delete {refused.max_delete}). Ist die Datei vollständig? "
        "Mit --dry-run sehen Sie, was sich ändern würde; mit --force wird trotzdem gelöscht.\n"
        f"Nothing imported: the file would delete {len(refused.deleting)} of {refused.active} active businesses, "
        f"{refused.limit} allowed (--max-delete {refused.max_delete}). Is the file complete? "
        "--dry-run shows what would change; --force deletes anyway.\n"
        f"Betriebsnummern: {shown}{more}"
    )


def _max_delete(text: str) -> MaxDelete:
    try:
        return MaxDelete.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"eine Anzahl (40) oder ein Anteil (5%) / a count or a percentage: {error}"
        ) from error


async def issue_annual_pins(args: argparse.Namespace) -> int:
    year = args.year
    from services.pins.app import make_context  # the server's wiring, without its broker

    settings = load_settings(LetterSettings, "pins")
    year = year or datetime.now(domain.BERLIN).year
    pool = await db.create_pool(settings.database_url.get_secret_value(), SCHEMA, MIGRATIONS, max_size=2)
    try:
        result = await annual.issue(make_context(settings, pool), year)
    except RuntimeError as error:
        print(f"Läuft bereits / already running: {error}", file=sys.stderr)
        return 1
    finally:
        await pool.close()
    if result.already_finished:
        print(f"Jahreslauf {year} ist bereits abgeschlossen / already done: {result.issued_total} PIN-Briefe.")
        return 0
    print(
        f"Jahreslauf {year}: {result.issued_now} neue PIN-Briefe, insgesamt {result.issued_total}, "
        f"{len(result.skipped)} übersprungen / {result.issued_now} new, {result.issued_total} in total, "
        f"{len(result.skipped)} skipped. The pins service publishes them."
    )
    if not result.skipped:
        return 0
    print("Übersprungen, weil ihre Daten in keinen PIN-Brief passen / skipped, their data fit no letter:")
    for skipped in result.skipped:
        print(f"  Betriebsnummer {skipped.betriebsnummer}: {' '.join(skipped.problems)}")
    print(
        "Bitte korrigieren Sie diese Betriebe im Register und starten Sie den Jahreslauf erneut; "
        "er stellt dann nur noch ihnen einen PIN-Brief aus."
    )
    return 1


def _import_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="UTF-8, ';', header Betriebsnummer;Name;Straße;PLZ;Ort;E-Mail;Gewerk")
    parser.add_argument("--full", action="store_true", help="mark businesses missing from the file as deleted")
    parser.add_argument("--dry-run", action="store_true", help="print what would change, apply nothing")
    parser.add_argument(
        "--max-delete",
        type=_max_delete,
        default=DEFAULT_MAX_DELETE,
        metavar="N|P%",
        help="--full deletes at most N businesses or P %% of the active register (default: 5%%, rounded down)",
    )
    parser.add_argument("--force", action="store_true", help="--full deletes even more than --max-delete allows")


def _annual_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--year", type=int, help="default: the current year")


COMMANDS = (
    Command(
        "import-businesses",
        "import the business register (CSV); a bad row applies nothing",
        import_businesses,
        _import_arguments,
    ),
    Command(
        "issue-annual-pins",
        "one PIN letter per active business, once a year (resumable)",
        issue_annual_pins,
        _annual_arguments,
    ),
)
