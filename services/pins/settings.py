from pydantic import Field, field_validator

from runtime.crypto import check_public_key
from runtime.settings import DatabaseServiceSettings


class Settings(DatabaseServiceSettings):
    http_port: int = Field(default=8002, ge=0, le=65535)
    printshop_public_key: str = Field(description="base64; PINs are sealed to it")

    @field_validator("printshop_public_key")
    @classmethod
    def _key(cls, value: str) -> str:
        return check_public_key(value)
