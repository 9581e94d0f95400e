from pydantic import Field

from runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    http_port: int = Field(default=8002, ge=0, le=65535)
