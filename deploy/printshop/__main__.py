"""`python -m deploy.printshop`: run the print shop until SIGTERM / Ctrl-C."""

import argparse
import asyncio
import logging
import signal
import sys

from deploy.printshop.consumer import PrintShopService
from deploy.printshop.settings import ConfigError, Settings


async def _main(settings: Settings) -> None:
    service = PrintShopService(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, service.stop.set)
    await service.run()


HELP = """Reads pin.requested.v1 from NATS, prints each letter to a PDF in the output folder
and acknowledges it. Configured by PRINTSHOP_* variables:
  PRINTSHOP_NATS_URL         NATS servers (comma-separated), required
  PRINTSHOP_OUTPUT_DIR       where the letters go, required
  PRINTSHOP_PRIVATE_KEY      opens the sealed letters (base64), or PRINTSHOP_PRIVATE_KEY_FILE
  PRINTSHOP_NATS_USER, PRINTSHOP_NATS_PASSWORD, PRINTSHOP_NATS_CREDS, PRINTSHOP_NATS_CA
  PRINTSHOP_HTTP_PORT, PRINTSHOP_HTTP_HOST   the letters' web view (none without a port)
  PRINTSHOP_ACK_WAIT_SECONDS, PRINTSHOP_PORTAL_URL, PRINTSHOP_LOG_LEVEL
Runs until SIGTERM or Ctrl-C."""


def main(argv: list[str] | None = None) -> None:
    # --help must work without any PRINTSHOP_* set and start nothing
    argparse.ArgumentParser(
        prog="python -m deploy.printshop",
        description="The print shop of the Kundenportal (stands in for the chamber's print service).",
        epilog=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    ).parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        print(f"printshop: configuration error: {error}", file=sys.stderr)
        sys.exit(2)
    logging.basicConfig(
        level=settings.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # fontTools logs the glyphs it keeps for each letter: that would tell which characters the
    # PIN has; fpdf logs little of use
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    logging.getLogger("fpdf").setLevel(logging.WARNING)
    try:
        asyncio.run(_main(settings))
    except ValueError as error:  # e.g. a malformed private key
        logging.getLogger("printshop").error("cannot start: %s", error)
        sys.exit(2)


if __name__ == "__main__":
    main()
