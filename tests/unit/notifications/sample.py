from datetime import UTC, datetime
from uuid import uuid4

NOW = datetime(2025, 3, 3, 13, 5, tzinfo=UTC)
PUBLIC_URL = "https://portal.example"


def person() -> dict:
    return {"user_id": uuid4(), "email": f"{uuid4().hex[:8]}@example.de", "first_name": "Erika", "last_name": "Müller"}
