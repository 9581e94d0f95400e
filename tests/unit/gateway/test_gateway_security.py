import pytest

CSRF = "Die Anfrage wurde aus Sicherheitsgründen abgelehnt."


async def test_cross_site_post_is_refused(gateway, accounts):
    response = await gateway.post("/api/v1/accounts/registrations", json={}, headers={"Origin": "https://evil.example"})
    assert response.status == 403
    error = (await response.json())["error"]
    assert error["code"] == "csrf_rejected"
    assert error["message"].startswith(CSRF)

    response = await gateway.post(
        "/registrieren",
        data={"email": "a@b.de"},
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert response.status == 403
    assert response.content_type == "text/html"
    assert CSRF in await response.text()
    assert accounts.calls == []


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_unsafe_method_without_origin_is_refused(gateway, accounts, method):
    response = await gateway.request(method, "/api/v1/accounts/sessions/current")
    assert response.status == 403
    assert accounts.calls == []


async def test_referer_of_another_site_is_refused(gateway, accounts):
    response = await gateway.post("/api/v1/accounts/x", headers={"Referer": "https://evil.example/a"})
    assert response.status == 403


async def test_same_origin_is_accepted(gateway, accounts):
    for headers in (
        {"Origin": "https://portal.example"},
        {"Referer": "https://portal.example/registrieren"},
        {"Sec-Fetch-Site": "same-origin"},
    ):
        response = await gateway.post("/api/v1/accounts/x", json={}, headers=headers)
        assert response.status == 200, headers
    assert len(accounts.calls) == 3


async def test_an_origin_matching_only_the_host_header_is_refused(gateway, accounts):
    """The Host header is the sender's to choose (and behind a proxy it names the gateway's own
    address): only the public origin proves a request came from our pages."""
    for host in (f"{gateway.host}:{gateway.port}", "evil.example"):
        for headers in ({"Origin": f"http://{host}"}, {"Referer": f"http://{host}/registrieren"}):
            response = await gateway.post("/api/v1/accounts/x", json={}, headers={**headers, "Host": host})
            assert response.status == 403, headers
    assert accounts.calls == []


async def test_safe_methods_need_no_origin(gateway, accounts):
    assert (await gateway.get("/api/v1/accounts/me")).status == 200


@pytest.mark.parametrize(
    "path", ["/", "/registrieren", "/gibt-es-nicht", "/api/v1/accounts/me", "/api/v1/pins/x", "/healthz"]
)
async def test_security_headers_on_every_answer(gateway, path):
    response = await gateway.get(path)
    headers = response.headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "camera=()" in headers["Permissions-Policy"]
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    assert headers["Cache-Control"] == "no-store"


async def test_no_hsts_on_plain_http_and_static_files_are_cacheable(accounts, start_gateway):
    gateway = await start_gateway(accounts_url=accounts.url, public_url="http://localhost:8000")
    response = await gateway.get("/static/portal.css")
    assert response.status == 200
    assert "Strict-Transport-Security" not in response.headers
    assert response.headers["Cache-Control"] != "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
