"""The public API's OpenAPI document: generated from the services' own request and answer models,
committed fresh (python -m deploy.openapi), valid OpenAPI 3.1, covering DESIGN.md's API."""

import json

from openapi_spec_validator import validate

from deploy.openapi import PATH, render


def test_the_committed_document_is_fresh_and_valid() -> None:
    assert PATH.read_text(encoding="utf-8") == render(), "stale: run python -m deploy.openapi"
    document = json.loads(PATH.read_text(encoding="utf-8"))
    validate(document)
    paths = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    # DESIGN.md's public API, as far as it is built
    assert {
        ("POST", "/api/v1/accounts/registrations"),
        ("POST", "/api/v1/accounts/registrations/confirm"),
        ("POST", "/api/v1/accounts/sessions"),
        ("DELETE", "/api/v1/accounts/sessions/current"),
        ("GET", "/api/v1/accounts/me"),
        ("POST", "/api/v1/accounts/password"),
        ("POST", "/api/v1/accounts/password/forgot"),
        ("POST", "/api/v1/accounts/password/reset"),
        ("POST", "/api/v1/pins/requests"),
        ("POST", "/api/v1/pins/links"),
        ("GET", "/api/v1/pins/businesses/mine"),
        ("POST", "/api/v1/notifications/contact"),
    } <= paths
