"""The public JSON API, described where it is served.

Each service lists its endpoints with the pydantic models that parse their bodies and shape their
answers, and registers its routes from that list; the OpenAPI document (`python -m deploy.openapi`,
committed as contracts/schemas/openapi.json) is generated from the same lists, so the document
cannot describe a request the service would not take.
"""

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from runtime.errors import INVALID_INPUT, ApiError, german_fields

M = TypeVar("M", bound=BaseModel)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # as the gateway serves it: /api/v1/<service>/…
    handler: Handler
    summary: str
    body: type[BaseModel] | None = None  # the JSON body it parses
    answer: type[BaseModel] | None = None  # the success answer's JSON; None: no body
    status: int = 200  # the success status
    session: bool = False  # needs the session cookie (401 without one)
    query: type[BaseModel] | None = None  # the query parameters it reads (parse_query)


def add_endpoints(app: web.Application, endpoints: Iterable[Endpoint]) -> None:
    """aiohttp's `{name}` matches no `{` or `}`: a path segment holding one would be answered 404
    before the handler could say 401 to a caller without a session. Any segment reaches the
    handler, which refuses itself what is no Betriebsnummer or account id."""
    app.router.add_routes([web.route(e.method, _any_segment(e.path), e.handler) for e in endpoints])


def _any_segment(path: str) -> str:
    return re.sub(r"{(\w+)}", r"{\1:[^/]+}", path)


def parse_query(request: web.Request, model: type[M], message: str = INVALID_INPUT) -> M:
    """The query string as `model` (what the OpenAPI document lists for it), or 422 with German
    field messages. A parameter given twice counts with its first value."""
    try:
        return model.model_validate({key: request.query[key] for key in request.query})
    except ValidationError as error:
        raise ApiError(422, "invalid_input", message, german_fields(error)) from None


def answer(model: BaseModel, status: int = 200) -> web.Response:
    """A success answer shaped by its model (exactly what the document says)."""
    # pydantic's own serializer: what model_dump + json.dumps gave, at a fraction of the cost (issue 12)
    body = model.model_dump_json().encode()
    return web.Response(body=body, status=status, content_type="application/json", charset="utf-8")


class Accepted(BaseModel):
    """An answer that is a German sentence for a person: "accepted", "confirmed", "linked" …"""

    status: str
    message: str
