"""The client's address, the identity the login and code throttles count by.

Only the direct peer of the connection cannot be forged. `X-Forwarded-For` and `X-Real-IP` are
written by whoever sends the request, so they are read only when the peer is one of the configured
trusted proxies (KVORUM_TRUSTED_PROXIES), and then X-Forwarded-For is read from the right: each
trusted proxy appends the address it saw, so the rightmost address that is not a trusted proxy is
the client, and anything to its left is the client's own claim. Without a configured proxy the
peer is the client, whatever the headers say.

Streamlit hides a loopback peer (`st.context.ip_address` is None for 127.0.0.1 and ::1), so
`peer=None` stands for «loopback»: a proxy on the same machine is trusted by listing 127.0.0.1 or ::1.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from services.settings import IPNetwork

LOOPBACK = "127.0.0.1"
_LOOPBACKS = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_address(text: str | None) -> Address | None:
    """An IP address from a header item: «203.0.113.7», «203.0.113.7:5123», «[2001:db8::1]:443»,
    «2001:db8::1»; an IPv4-mapped IPv6 address is its IPv4 address. None for anything else."""
    if not text:
        return None
    item = text.strip().strip('"')
    if item.startswith("["):  # [v6]:port
        item = item[1:].split("]", 1)[0]
    elif item.count(":") == 1:  # v4:port
        item = item.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(item.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, networks: Sequence[IPNetwork]) -> bool:
    return any(address.version == n.version and address in n for n in networks)


def client_address(*, peer: str | None, forwarded_for: Iterable[str] = (), real_ip: str | None = None,
                   trusted: Sequence[IPNetwork] = ()) -> str:
    """The address to count a visitor's attempts by.

    `peer` is the connection's remote address (None: loopback, see above); `forwarded_for` the
    values of every X-Forwarded-For header in order; `real_ip` the X-Real-IP header.
    """
    if peer is None:
        peer_trusted = any(_trusted(a, trusted) for a in _LOOPBACKS)
        peer_text = LOOPBACK
    else:
        address = parse_address(peer)
        if address is None:  # not an address at all (a unix socket): one client, as given
            return peer.strip()
        peer_trusted = _trusted(address, trusted)
        peer_text = str(address)
    if not peer_trusted:
        return peer_text
    chain = [item for value in forwarded_for for item in str(value).split(",") if item.strip()]
    if not chain:
        real = parse_address(real_ip)
        return str(real) if real is not None else peer_text
    nearest = peer_text  # the closest hop known to be genuine
    for item in reversed(chain):
        address = parse_address(item)
        if address is None:
            # garbage where a trusted proxy should have written an address: the claim is the
            # client's own, so the last genuine hop is all that is known
            return nearest
        if not _trusted(address, trusted):
            return str(address)
        nearest = str(address)
    return nearest  # every hop is a trusted proxy: the leftmost is the client
