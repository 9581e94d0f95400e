"""`python -m tests.bench.peer PORT` — the peer on 127.0.0.1:PORT: tables created once, then
uvicorn with 2 workers (one per core, as a team would deploy it), access log off like ours."""

import asyncio
import sys

import uvicorn

from tests.bench.peer.app import create_db_and_tables, engine


async def _prepare() -> None:
    await create_db_and_tables()
    await engine.dispose()  # the workers fork their own pools


if __name__ == "__main__":
    asyncio.run(_prepare())
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    uvicorn.run(
        "tests.bench.peer.app:app",
        host="127.0.0.1",
        port=int(sys.argv[1]),
        workers=workers,
        log_level="warning",
        access_log=False,
    )
