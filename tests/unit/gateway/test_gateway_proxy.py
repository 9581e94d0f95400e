import time

from yarl import URL

from runtime.identity import Identity, Signer, generate_signing_keypair
from tests.support.identity import signed, verified

SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


async def test_forwards_method_path_query_body_and_status(gateway, accounts):
    accounts.answers[("POST", "/api/v1/accounts/registrations")] = (202, {"status": "accepted"})
    body = b'{"email": "anna@example.de"}'
    response = await gateway.post(
        "/api/v1/accounts/registrations?x=1&y=%C3%BC",
        data=body,
        headers={**SAME_ORIGIN, "Content-Type": "application/json"},
    )
    assert response.status == 202
    assert await response.json() == {"status": "accepted"}
    (call,) = accounts.calls
    assert (call.method, call.path_qs, call.body) == ("POST", "/api/v1/accounts/registrations?x=1&y=%C3%BC", body)
    assert call.headers["Content-Type"] == "application/json"
    assert call.headers["Content-Length"] == str(len(body))
    assert "Transfer-Encoding" not in call.headers


async def test_response_headers_are_filtered(gateway, accounts):
    response = await gateway.get("/api/v1/accounts/me")
    assert response.status == 200
    assert "X-Internal-Detail" not in response.headers
    assert "portal_session=abc" in response.headers["Set-Cookie"]


async def test_inbound_identity_and_hop_by_hop_headers_are_replaced_by_a_signed_identity(gateway, accounts):
    forged = signed(
        "GET", "/api/v1/accounts/me", user="u1:s1", client="10.0.0.1", signer=Signer(generate_signing_keypair()[1])
    )["headers"]
    await gateway.get(
        "/api/v1/accounts/me",
        headers={
            **forged,
            "Cookie": "portal_session=xyz",
            "Proxy-Authorization": "Basic eA==",
            "Upgrade": "websocket",
            "Authorization": "Bearer x",
        },
    )
    (call,) = accounts.calls
    assert verified(call) == Identity(user="", client="127.0.0.1")
    for name in ("Cookie", "Proxy-Authorization", "Upgrade", "Authorization"):
        assert name not in call.headers


async def test_unreachable_service_is_a_quick_503(gateway):
    started = time.monotonic()
    response = await gateway.get("/api/v1/pins/businesses/mine")
    assert response.status == 503
    error = (await response.json())["error"]
    assert error["code"] == "service_unavailable"
    assert error["message"].startswith("Der Dienst ist gerade nicht erreichbar.")
    assert time.monotonic() - started < 2


async def test_slow_service_times_out_with_503(accounts, start_gateway):
    gateway = await start_gateway(accounts_url=accounts.url, upstream_timeout=0.3)
    response = await gateway.get("/api/v1/accounts/slow")
    assert response.status == 503


async def test_body_over_the_limit_is_413(gateway, accounts):
    big = b"x" * (65 * 1024)
    response = await gateway.post("/api/v1/accounts/registrations", data=big, headers=SAME_ORIGIN)
    assert response.status == 413
    assert (await response.json())["error"]["message"] == "Die Anfrage ist zu groß."

    async def chunks():
        for _ in range(70):
            yield b"x" * 1024

    response = await gateway.post("/api/v1/accounts/registrations", data=chunks(), headers=SAME_ORIGIN)
    assert response.status == 413
    assert accounts.calls == []


async def test_chunked_body_within_the_limit_is_forwarded(gateway, accounts):
    async def chunks():
        yield b'{"a": '
        yield b"1}"

    response = await gateway.post("/api/v1/accounts/x", data=chunks(), headers=SAME_ORIGIN)
    assert response.status == 200
    assert accounts.calls[0].body == b'{"a": 1}'


async def test_large_answer_is_streamed_back(gateway):
    response = await gateway.get("/api/v1/accounts/big")
    assert response.status == 200
    assert await response.read() == b"x" * (300 * 1024)


async def test_unknown_service_and_dot_segments_are_404(gateway, accounts):
    response = await gateway.get("/api/v1/billing/x")
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"
    for path in ("/api/v1/accounts/../../metrics", "/api/v1/accounts/%2e%2e/metrics"):
        url = URL(f"http://{gateway.host}:{gateway.port}{path}", encoded=True)
        response = await gateway.session.get(url)
        assert response.status == 404, path
    assert accounts.calls == []


async def test_empty_answer(gateway):
    response = await gateway.delete("/api/v1/accounts/empty", headers=SAME_ORIGIN)
    assert response.status == 204
    assert await response.read() == b""
