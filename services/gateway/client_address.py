"""Who the client is, when the gateway sits behind a TLS terminator or an ingress.

`X-Forwarded-For` is believed only from the proxies ops name in `PORTAL_TRUSTED_PROXIES`
(CIDRs): walking from the connection's peer leftwards through the header, the client is the first
hop that is not one of them. Anything further left was written by whoever connected, so it counts
for nothing. An IPv6 client is its /64: one subscriber line gets a whole /64 and can use every
address in it, so per-address limits on single IPv6 addresses would count nothing.

aiohttp-remotes was considered: its strict mode wants the chain of proxies hop by hop and refuses
any other request with a 400, its relaxed mode trusts a fixed number of hops whoever sent them;
the rule above (a set of CIDRs, right-most untrusted hop) is what an ingress that scales needs.
"""

import functools
import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(value: str) -> tuple[Network, ...]:
    """'10.0.0.0/8, 2001:db8::/32' → networks; a bare address is its own /32 or /128."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip())


# Answers kept, by what they were computed from: parsing addresses was a few per cent of the
# gateway's CPU per request (issue 12), and a gateway sees the same peers and chains again and
# again. The least recently used are forgotten, so a flood of new addresses costs what it did.
SEEN_KEPT = 4096


class ClientAddress:
    def __init__(self, trusted: Iterable[Network]) -> None:
        self.trusted = tuple(trusted)
        self._client_of = functools.lru_cache(maxsize=SEEN_KEPT)(self._client)
        self.is_trusted_proxy = functools.lru_cache(maxsize=SEEN_KEPT)(self._trusted_proxy)

    def __call__(self, peer: str | None, forwarded_for: Iterable[str]) -> str:
        """The client's address as limits should count it: an IPv4 address, an IPv6 /64."""
        return self._client_of(peer, tuple(forwarded_for))

    def _trusted_proxy(self, peer: str | None) -> bool:
        """Is the connection's peer one of the proxies ops named? (`is_trusted_proxy`)"""
        address = _address(peer)
        return address is not None and self._is_trusted(address)

    def _client(self, peer: str | None, forwarded_for: tuple[str, ...]) -> str:
        address = _address(peer)
        if address is None:
            return peer or ""
        if self.trusted and self._is_trusted(address):
            hops = [hop.strip() for header in forwarded_for for hop in header.split(",")]
            for hop in reversed(hops):
                found = _address(hop)
                if found is None:
                    break  # garbage from the untrusted side: the last trusted hop is all we know
                address = found
                if not self._is_trusted(found):
                    break
        return _grouped(address)

    def _is_trusted(self, address: Address) -> bool:
        return any(address in network for network in self.trusted)


def _address(value: str | None) -> Address | None:
    if not value:
        return None
    value = value.strip()
    if value.startswith("["):  # "[2001:db8::1]:443"
        value = value[1:].partition("]")[0]
    elif value.count(":") == 1:  # "192.0.2.1:443"
        value = value.partition(":")[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _grouped(address: Address) -> str:
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)
