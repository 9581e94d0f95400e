from uuid import uuid4

import pytest

from contracts import SessionRevokeV1
from runtime.sessions import SessionUser
from services.gateway.revocation import handle_revoke
from services.gateway.session_cache import Resolved, cache_key
from tests.unit.gateway.sessions_helpers import RESOLVE, Clock, cookie, new_cache, signed_in


@pytest.fixture
def filled():
    cache = new_cache(Clock())
    user_id, other = uuid4(), uuid4()
    sessions = {}
    for token, owner in [("a", user_id), ("b", user_id), ("c", user_id), ("x", other)]:
        sessions[token] = SessionUser(owner, uuid4())
        cache.put(cache_key(token), Resolved(sessions[token], False))
    return cache, user_id, sessions


def cached(cache) -> set[str]:
    return {t for t in "abcx" if cache.get(cache_key(t)) is not None}


def revoke(**fields) -> bytes:
    return SessionRevokeV1(reason="staff", **fields).model_dump_json().encode()


def test_all_sessions(filled):
    cache, user_id, _ = filled
    handle_revoke(cache, revoke(user_id=user_id, all_sessions=True))
    assert cached(cache) == {"x"}


def test_all_sessions_except_one_drops_the_kept_one_too_so_it_resolves_afresh(filled):
    cache, user_id, sessions = filled
    handle_revoke(cache, revoke(user_id=user_id, all_sessions=True, except_session_id=sessions["b"].session_id))
    assert cached(cache) == {"x"}


def test_listed_sessions(filled):
    cache, user_id, sessions = filled
    listed = [sessions["a"].session_id, sessions["c"].session_id, sessions["x"].session_id]
    handle_revoke(cache, revoke(user_id=user_id, all_sessions=False, session_ids=listed))
    assert cached(cache) == {"b", "x"}


@pytest.mark.parametrize("body", [b"", b"not json", b'{"user_id": "nope"}', b"[]"])
def test_bad_messages_are_dropped(filled, body):
    cache, _, _ = filled
    handle_revoke(cache, body)
    assert cached(cache) == set("abcx")


async def test_revoked_session_is_resolved_again(accounts, start_gateway):
    cache = new_cache(Clock())
    gateway = await start_gateway(accounts_url=accounts.url, cache=cache)
    user = signed_in(accounts)
    await gateway.get("/api/v1/accounts/me", headers=cookie("tok"))
    handle_revoke(cache, revoke(user_id=user.user_id, all_sessions=True))
    await gateway.get("/api/v1/accounts/me", headers=cookie("tok"))
    assert len(accounts.calls_to(*RESOLVE)) == 2
