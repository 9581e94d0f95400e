"""The gateway's request id: its own unless a trusted proxy named a safe one, returned to the
browser and sent on every upstream call (the proxy, the pages, the session resolve)."""

from multidict import CIMultiDict

from runtime.logs import safe_request_id
from tests.unit.gateway.sessions_helpers import RESOLVE, SAME_ORIGIN, cookie, signed_in

ME = ("GET", "/api/v1/accounts/me")
TRUSTED = {"trusted_proxies": "127.0.0.0/8"}  # the test client connects from loopback


def sent_id(call) -> str:
    """The id a service received (aiohttp spells the header X-Request-ID on the wire)."""
    return CIMultiDict(call.headers)["X-Request-Id"]


async def test_an_untrusted_clients_id_is_replaced_everywhere(gateway, accounts):
    response = await gateway.get(ME[1], headers={"X-Request-Id": "planted-by-client"})
    assert response.status == 200
    given = response.headers["X-Request-Id"]
    assert given != "planted-by-client" and safe_request_id(given) == given
    (call,) = accounts.calls_to(*ME)
    assert sent_id(call) == given


async def test_each_request_gets_its_own_id(gateway):
    first, second = await gateway.get("/healthz"), await gateway.get("/healthz")
    assert first.headers["X-Request-Id"] != second.headers["X-Request-Id"]


async def test_a_trusted_proxys_id_is_kept_and_sent_on(accounts, start_gateway):
    gateway = await start_gateway(accounts_url=accounts.url, **TRUSTED)
    response = await gateway.get(ME[1], headers={"X-Request-Id": "ingress-7f3a"})
    assert response.headers["X-Request-Id"] == "ingress-7f3a"
    (call,) = accounts.calls_to(*ME)
    assert sent_id(call) == "ingress-7f3a"


async def test_an_unsafe_id_is_replaced_even_from_a_trusted_proxy(accounts, start_gateway):
    gateway = await start_gateway(accounts_url=accounts.url, **TRUSTED)
    for bad in ("a" * 65, "id with spaces", "x" * 4000, "a;b"):
        response = await gateway.get(ME[1], headers={"X-Request-Id": bad})
        assert response.headers["X-Request-Id"] != bad
        assert safe_request_id(response.headers["X-Request-Id"])
    assert all(safe_request_id(sent_id(call)) for call in accounts.calls)


async def test_the_session_resolve_and_the_pages_calls_carry_the_id(gateway, accounts):
    signed_in(accounts)
    response = await gateway.get(ME[1], headers=cookie("tok-1"))
    (resolve,) = accounts.calls_to(*RESOLVE)
    (me,) = accounts.calls_to(*ME)
    assert sent_id(resolve) == sent_id(me) == response.headers["X-Request-Id"]
    accounts.answers[("POST", "/api/v1/accounts/registrations")] = (202, {"status": "accepted"})
    form = {"first_name": "Anna", "last_name": "Muster", "email": "anna@example.de", "birth_date": "31.01.1980"}
    page = await gateway.post("/registrieren", headers=SAME_ORIGIN, data=form, allow_redirects=False)
    assert page.status == 303
    (registration,) = accounts.calls_to("POST", "/api/v1/accounts/registrations")
    assert sent_id(registration) == page.headers["X-Request-Id"]
