"""The portal's error answer: JSON `{"error": {"code", "message", "fields"}}`, a German sentence for
a person, a 4xx status. Pydantic's validation errors are translated here, once for every service."""

import functools
import json
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from runtime.validation import CONTROL_CHARACTERS, CONTROL_MESSAGE


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: dict[str, str] | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or {}
        self.headers = headers or {}


# German text stays readable on the wire (umlauts, not \u00fc escapes).
dumps = functools.partial(json.dumps, ensure_ascii=False)


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=dumps)


class ErrorDetail(BaseModel):
    code: str  # for programs: e.g. "invalid_input", "login_throttled"
    message: str  # a German sentence for a person
    fields: dict[str, str]  # per field of the request, the German sentence to show beside it


class ErrorBody(BaseModel):
    """Every 4xx and 503 of the portal has this body."""

    error: ErrorDetail


def error_body(code: str, message: str, fields: dict[str, str] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def error_response(
    status: int,
    code: str,
    message: str,
    fields: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    response = json_response(error_body(code, message, fields), status=status)
    response.headers.update(headers or {})
    return response


INVALID_INPUT = "Bitte prüfen Sie Ihre Eingaben."
UNAVAILABLE_CODE = "service_unavailable"
UNAVAILABLE = "Der Dienst ist gerade nicht erreichbar. Bitte versuchen Sie es in einigen Minuten erneut."

_GERMAN = {
    "missing": "Bitte füllen Sie dieses Feld aus.",
    "string_too_short": "Bitte füllen Sie dieses Feld aus.",
    "string_too_long": "Diese Eingabe ist zu lang.",
    "string_type": "Bitte geben Sie einen Text ein.",
    "date_from_datetime_parsing": "Bitte geben Sie ein gültiges Datum ein (TT.MM.JJJJ).",
    "date_parsing": "Bitte geben Sie ein gültiges Datum ein (TT.MM.JJJJ).",
    "date_type": "Bitte geben Sie ein gültiges Datum ein (TT.MM.JJJJ).",
    "uuid_parsing": "Dieser Wert ist ungültig.",
    "extra_forbidden": "Dieses Feld ist unbekannt.",
    "string_pattern_mismatch": "Diese Eingabe enthält unzulässige Zeichen.",
}


def german_fields(error: ValidationError) -> dict[str, str]:
    fields: dict[str, str] = {}
    for problem in error.errors():
        name = ".".join(str(p) for p in problem["loc"]) or "body"
        if name in fields:
            continue
        if problem["type"] == "value_error":
            # Our own validators raise ValueError with the German sentence itself.
            fields[name] = str(problem.get("ctx", {}).get("error", problem["msg"]))
        else:
            fields[name] = _GERMAN.get(problem["type"], "Diese Eingabe ist ungültig.")
    return fields


M = TypeVar("M", bound=BaseModel)


async def parse_json(request: web.Request, model: type[M], context: dict[str, Any] | None = None) -> M:
    """The request body as `model`, or an ApiError (400/422) with German field messages."""
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "Bitte senden Sie die Daten als JSON.")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(413, "too_large", "Die Anfrage ist zu groß.") from None
    if b"\\u" in raw or b"\x7f" in raw or b"\xc2" in raw:  # C0 escaped; DEL, C1 (U+0080-9F) also raw
        _refuse_control_characters(raw)
    try:
        return model.model_validate_json(raw or b"{}", context=context)
    except ValidationError as error:
        if any(p["type"] in ("json_invalid", "model_type") for p in error.errors()):
            raise ApiError(400, "bad_json", "Die Anfrage konnte nicht gelesen werden.") from None
        raise ApiError(422, "invalid_input", INVALID_INPUT, german_fields(error)) from None


def _refuse_control_characters(raw: bytes) -> None:
    """Every service's first line against control characters, whatever its own fields check."""
    try:
        data = json.loads(raw)
    except ValueError:
        return  # the model's parse answers 400
    fields = {path or "body": CONTROL_MESSAGE for path in _paths_with_controls(data, "")}
    if fields:
        raise ApiError(422, "invalid_input", INVALID_INPUT, fields)


def _paths_with_controls(value: Any, path: str):
    if isinstance(value, str):
        if CONTROL_CHARACTERS.search(value):
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _paths_with_controls(key, path)
            yield from _paths_with_controls(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths_with_controls(item, f"{path}.{index}" if path else str(index))
