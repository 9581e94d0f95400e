"""The public API's document: generated from the services' own models, fresh, valid, served by the
gateway — and the running portal answers as it says (schemathesis), never with a 5xx."""

import asyncio
import json

import hypothesis
import pytest
import requests
import schemathesis
from schemathesis.specs.openapi.checks import ignored_auth, positive_data_acceptance

from deploy.openapi import PATH
from tests.support.client import Client
from tests.support.members import member_with_own_password

pytestmark = pytest.mark.integration

EXAMPLES = 15  # per operation: enough to reach every validator, a few seconds each


async def test_the_portal_answers_as_its_document_says(portal) -> None:
    async with Client(portal.gateway_url) as client:
        email, password = await member_with_own_password(portal, client, "openapi")
    served = await asyncio.to_thread(requests.get, f"{portal.gateway_url}/api/v1/openapi.json", timeout=5)
    assert served.status_code == 200 and served.headers["Content-Type"].startswith("application/json")
    assert served.json() == json.loads(PATH.read_text(encoding="utf-8"))
    failures = await asyncio.to_thread(_run_schemathesis, portal.gateway_url, served.json(), email, password)
    assert failures == [], "\n\n".join(failures)


def _run_schemathesis(base_url: str, document: dict, email: str, password: str) -> list[str]:
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        session = requests.Session()
        session.headers["Origin"] = base_url  # a request from the portal's own pages
        login = session.post(f"{base_url}/api/v1/accounts/sessions", json={"email": email, "password": password})
        assert login.status_code == 201, login.text

        @hypothesis.settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        @hypothesis.given(case=operation.as_strategy())
        def check(case) -> None:
            # ignored_auth sends a made-up `__Host-kp_session` beside the session's real cookie, which on
            # plain http is `kp_session`: the real one wins (requests without a session: below).
            # positive_data_acceptance expects every schema-valid body to pass, but the rules go beyond
            # types: a wrong current password, a breached one, an unknown token are a German 422.
            case.call_and_validate(
                base_url=base_url, session=session, excluded_checks=[ignored_auth, positive_data_acceptance]
            )

        try:
            check()
        except Exception as error:  # one operation's failure must not hide the others'
            failures.append(f"{operation.method.upper()} {operation.path}: {error}")
        if document["paths"][operation.path][operation.method.lower()].get("security"):  # no session: refused
            bare = requests.request(
                operation.method.upper(),
                f"{base_url}{operation.path}",
                headers={"Origin": base_url},
                json={} if operation.method.upper() != "GET" else None,
                timeout=10,
            )
            if bare.status_code != 401:
                failures.append(f"{operation.method.upper()} {operation.path} without a session: {bare.status_code}")
    return failures
