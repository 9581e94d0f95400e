"""The OpenAPI 3.1 document of the public JSON API, built from the services' endpoint lists.

Pure: endpoints in, a dict out. `python -m deploy.openapi` writes it to
contracts/schemas/openapi.json, which the gateway serves at /api/v1/openapi.json.
"""

import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from runtime.api import Endpoint
from runtime.errors import ErrorBody

REF = "#/components/schemas/{model}"
SESSION_COOKIE = "__Host-kp_session"  # kp_session on plain http, in development

DESCRIPTION = """The customer portal of a chamber of crafts (Handwerkskammer): registration, login,
passwords, PIN letters and linking an account to a business. JSON in and out; errors are
`{"error": {"code", "message", "fields"}}` with a German sentence for a person in `message` and one
per field in `fields`. A session is the `__Host-kp_session` cookie set by `POST /api/v1/accounts/sessions`.
Requests that change something must come from the portal's own origin (`Origin` or
`Sec-Fetch-Site: same-origin`), else 403. Limits answer 429 with `Retry-After`; an overloaded or
unreachable service answers 503 with `Retry-After` where it knows when to come back."""


def document(endpoints: dict[str, Iterable[Endpoint]], *, version: str = "1") -> dict[str, Any]:
    """`endpoints`: by service (the tag)."""
    listed = [(service, e) for service, group in endpoints.items() for e in group]
    models: list[tuple[type[BaseModel], str]] = [(ErrorBody, "serialization")]
    for _, e in listed:
        if e.body is not None:
            models.append((e.body, "validation"))
        if e.answer is not None:
            models.append((e.answer, "serialization"))
    keys, definitions = models_json_schema(list(dict.fromkeys(models)), ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for service, e in listed:
        paths.setdefault(e.path, {})[e.method.lower()] = _operation(service, e, keys)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Kundenportal", "version": version, "description": DESCRIPTION},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE}},
        },
    }


def _operation(service: str, e: Endpoint, keys: dict) -> dict[str, Any]:
    error = {"application/json": {"schema": keys[(ErrorBody, "serialization")]}}
    retry = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}
    success: dict[str, Any] = {"description": "Success"}
    if e.answer is not None:
        success["content"] = {"application/json": {"schema": keys[(e.answer, "serialization")]}}
    operation: dict[str, Any] = {
        "tags": [service],
        "summary": e.summary,
        "operationId": f"{e.method.lower()}_{re.sub(r'[/{}]+', '_', e.path.removeprefix('/api/v1/')).strip('_')}",
        "responses": {
            str(e.status): success,
            "429": {"description": "Too many attempts: wait as Retry-After says", "headers": retry, "content": error},
            "4XX": {
                "description": "Refused: a German message for the person, per field where it is one's",
                "content": error,
            },
            "503": {"description": "Busy or unreachable: try again later", "headers": retry, "content": error},
        },
    }
    if e.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": keys[(e.body, "validation")]}},
        }
    if e.session:
        operation["security"] = [{"session": []}]
    # a path template's `{name}`: a required string in the path
    parameters = [
        {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
        for n in re.findall(r"{(\w+)}", e.path)
    ]
    if e.query is not None:
        schema = e.query.model_json_schema()
        parameters += [
            {"name": name, "in": "query", "required": name in schema.get("required", []), "schema": prop}
            for name, prop in schema["properties"].items()
        ]
    if parameters:
        operation["parameters"] = parameters
    return operation
