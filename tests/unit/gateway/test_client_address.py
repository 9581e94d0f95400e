import pytest

from services.gateway.client_address import ClientAddress, parse_networks
from tests.support.identity import verified

PROXY = ClientAddress(parse_networks("10.0.0.0/8, 2001:db8:ffff::/48"))


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        # nobody trusted: the header counts for nothing
        ("192.0.2.9", ["198.51.100.1"], "192.0.2.9"),
        # through the trusted proxy: the right-most hop it did not write itself
        ("10.1.2.3", ["198.51.100.1"], "198.51.100.1"),
        ("10.1.2.3", ["203.0.113.5, 198.51.100.1"], "198.51.100.1"),  # the left one is the client's own claim
        ("10.1.2.3", ["203.0.113.5, 198.51.100.1, 10.9.9.9"], "198.51.100.1"),  # two proxies of ours
        ("10.1.2.3", ["203.0.113.5", "198.51.100.1"], "198.51.100.1"),  # several header lines are one list
        ("10.1.2.3", [], "10.1.2.3"),
        ("10.1.2.3", ["not-an-address"], "10.1.2.3"),
        ("10.1.2.3", ["203.0.113.5, junk, 10.9.9.9"], "10.9.9.9"),
        ("10.1.2.3", ["[2001:db8:1:2::7]:4711"], "2001:db8:1:2::/64"),
        ("10.1.2.3", ["198.51.100.1:443"], "198.51.100.1"),
        # IPv6 clients are their /64; a mapped IPv4 address is the IPv4 address
        ("2001:db8:1:2:aaaa::1", [], "2001:db8:1:2::/64"),
        ("2001:db8:ffff:1::1", ["2001:db8:5:6::9"], "2001:db8:5:6::/64"),
        ("::ffff:192.0.2.1", [], "192.0.2.1"),
    ],
)
def test_the_client_is_the_right_most_untrusted_hop(peer, forwarded, client):
    assert PROXY(peer, forwarded) == client


def test_without_trusted_proxies_the_peer_is_the_client():
    assert ClientAddress(())("10.1.2.3", ["198.51.100.1"]) == "10.1.2.3"


def test_a_misspelt_network_stops_the_start():
    with pytest.raises(ValueError):
        parse_networks("10.0.0.0/33")


async def test_the_gateway_believes_forwarded_for_only_from_a_trusted_proxy(accounts, start_gateway):
    untrusted = await start_gateway(accounts_url=accounts.url)
    await untrusted.get("/api/v1/accounts/me", headers={"X-Forwarded-For": "198.51.100.1"})
    trusted = await start_gateway(accounts_url=accounts.url, trusted_proxies="127.0.0.0/8")
    await trusted.get("/api/v1/accounts/me", headers={"X-Forwarded-For": "203.0.113.9, 198.51.100.1"})
    first, second = accounts.calls
    assert verified(first).client == "127.0.0.1"
    assert verified(second).client == "198.51.100.1"
    assert "X-Forwarded-For" not in second.headers


def test_remembered_answers_are_the_same_answers_and_bounded(monkeypatch):
    """The memo (issue 12) keeps what parsing gave, per peer and chain, and no more than it may."""
    monkeypatch.setattr("services.gateway.client_address.SEEN_KEPT", 3)
    addresses = ClientAddress(parse_networks("10.0.0.0/8"))
    assert addresses("10.1.2.3", ["198.51.100.1"]) == "198.51.100.1"
    assert addresses("10.1.2.3", ["198.51.100.1"]) == "198.51.100.1"  # remembered
    assert addresses("10.1.2.3", ["198.51.100.2"]) == "198.51.100.2"  # another chain, another answer
    assert addresses.is_trusted_proxy("10.1.2.3") and not addresses.is_trusted_proxy("192.0.2.9")
    assert addresses.is_trusted_proxy("::ffff:10.0.0.1") and not addresses.is_trusted_proxy("garbage")
    for i in range(10):
        addresses(f"192.0.2.{i}", [])
    assert addresses._client_of.cache_info().currsize <= 3 and addresses.is_trusted_proxy.cache_info().currsize <= 3
    assert addresses("192.0.2.7", ["198.51.100.1"]) == "192.0.2.7"  # still right after forgetting
