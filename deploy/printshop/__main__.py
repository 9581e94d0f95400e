"""`python -m deploy.printshop`: run the print shop until SIGTERM / Ctrl-C."""

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


def main() -> None:
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
