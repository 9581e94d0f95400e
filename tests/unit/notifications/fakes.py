"""Test doubles of notifications' ports."""

from services.notifications.mime import Outgoing


class FakeMailer:
    """Keeps what it was given; `fail_with` makes the next sends raise."""

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []
        self.fail_with: Exception | None = None

    async def send(self, message: Outgoing) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append(message)

    async def close(self) -> None:
        """Nothing kept."""

    def to(self, recipient: str) -> list[Outgoing]:
        return [m for m in self.sent if m["To"] == recipient]
