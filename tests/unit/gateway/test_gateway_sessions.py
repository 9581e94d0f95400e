from uuid import uuid4

from runtime.identity import Identity
from runtime.sessions import SESSION_HEADER, SESSION_REFRESH, SessionUser
from services.gateway.session_cache import Resolved, cache_key
from tests.support.identity import verified
from tests.unit.gateway.conftest import closed_port_url
from tests.unit.gateway.sessions_helpers import RESOLVE, SAME_ORIGIN, Clock, cookie, new_cache, signed_in

ME = "/api/v1/accounts/me"


async def test_no_cookie_no_resolve(gateway, accounts):
    await gateway.get(ME, headers={"Cookie": "other=1"})
    await gateway.get("/")
    assert accounts.calls_to(*RESOLVE) == []
    (call,) = accounts.calls
    assert verified(call).user == ""


async def test_identity_carries_user_and_session(gateway, accounts):
    user = signed_in(accounts)
    await gateway.get(ME, headers=cookie("tok-1"))
    (resolve,) = accounts.calls_to(*RESOLVE)
    assert resolve.json() == {"token": "tok-1"}
    assert verified(resolve) == Identity(user="", client="127.0.0.1")
    (me,) = accounts.calls_to("GET", ME)
    assert verified(me).user == f"{user.user_id}:{user.session_id}:{user.started_at_ms}:member"


async def test_cache_hit_avoids_a_second_resolve(accounts, start_gateway):
    clock = Clock()
    gateway = await start_gateway(accounts_url=accounts.url, cache=new_cache(clock))
    signed_in(accounts)
    for _ in range(3):
        assert (await gateway.get(ME, headers=cookie("tok"))).status == 200
        clock.now += 3
    assert len(accounts.calls_to(*RESOLVE)) == 1


async def test_expired_entry_is_resolved_again(accounts, start_gateway):
    clock = Clock()
    gateway = await start_gateway(accounts_url=accounts.url, cache=new_cache(clock))
    signed_in(accounts)
    await gateway.get(ME, headers=cookie("tok"))
    clock.now += 10
    await gateway.get(ME, headers=cookie("tok"))
    assert len(accounts.calls_to(*RESOLVE)) == 2


async def test_static_files_never_resolve(gateway, accounts):
    signed_in(accounts)
    assert (await gateway.get("/static/portal.css", headers=cookie("tok"))).status == 200
    assert (await gateway.get("/healthz", headers=cookie("tok"))).status == 200
    assert accounts.calls == []


async def test_unknown_cookie_is_anonymous_and_cleared(gateway, accounts):
    accounts.answers[RESOLVE] = (404, {"error": {"code": "not_found", "message": "x", "fields": {}}})
    response = await gateway.get(ME, headers=cookie("stale"))
    (cleared,) = [c for c in response.headers.getall("Set-Cookie") if c.startswith("__Host-kp_session=")]
    assert "Max-Age=0" in cleared and "Secure" in cleared and "Path=/" in cleared
    (me,) = accounts.calls_to("GET", ME)
    assert verified(me).user == ""

    page = await gateway.get("/", headers=cookie("stale"))
    assert "__Host-kp_session" in page.headers["Set-Cookie"]
    assert '<a class="login" href="/login">Login</a>' in await page.text()


async def test_accounts_down_while_resolving(start_gateway):
    gateway = await start_gateway(accounts_url=closed_port_url())
    page = await gateway.get("/", headers=cookie("tok"))
    assert page.status == 200 and "Set-Cookie" not in page.headers
    konto = await gateway.get("/konto", headers=cookie("tok"), allow_redirects=False)
    assert konto.status == 503 and "Der Dienst ist gerade nicht erreichbar." in await konto.text()
    api = await gateway.get(ME, headers=cookie("tok"))
    assert api.status == 503 and (await api.json())["error"]["code"] == "service_unavailable"


async def test_logout_through_the_api_drops_the_own_cache_entry(accounts, start_gateway):
    clock = Clock()
    cache = new_cache(clock)
    gateway = await start_gateway(accounts_url=accounts.url, cache=cache)
    signed_in(accounts, must_change=True)
    accounts.answers[("DELETE", "/api/v1/accounts/sessions/current")] = (204, None)
    # accounts' answer says the session changed: the gateway keeps no table of such routes
    accounts.headers[("DELETE", "/api/v1/accounts/sessions/current")] = {SESSION_HEADER: SESSION_REFRESH}
    await gateway.get(ME, headers=cookie("tok"))
    assert cache.get(cache_key("tok")) is not None
    response = await gateway.delete("/api/v1/accounts/sessions/current", headers={**cookie("tok"), **SAME_ORIGIN})
    assert response.status == 204
    assert cache.get(cache_key("tok")) is None


def test_cache_is_bounded_and_evicts_the_oldest():
    cache = new_cache(Clock(), max_entries=2)
    user = SessionUser(uuid4(), uuid4())
    for token in ("a", "b", "c"):
        cache.put(cache_key(token), Resolved(SessionUser(user.user_id, uuid4()), False))
    assert len(cache) == 2
    assert cache.get(cache_key("a")) is None and cache.get(cache_key("c")) is not None
    assert cache.drop_user(user.user_id) == 2 and len(cache) == 0


def test_lifetime_zero_caches_nothing():
    cache = new_cache(Clock(), lifetime=0)
    cache.put(cache_key("a"), Resolved(SessionUser(uuid4(), uuid4()), False))
    assert len(cache) == 0
