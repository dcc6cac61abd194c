"""Which address a visitor's attempts are counted by: the peer, unless a configured trusted proxy
speaks for it (X-Forwarded-For read from the right, X-Real-IP without it)."""
from __future__ import annotations

import pytest

from services.clientaddr import client_address, parse_address
from services.settings import SettingsError, load_settings, parse_trusted_proxies

LOCAL_PROXY = parse_trusted_proxies("127.0.0.1, ::1")
PROXIES = parse_trusted_proxies("10.0.0.0/8 192.0.2.10")


@pytest.mark.parametrize("peer,xff,real_ip,trusted,expected", [
    # no proxy configured: the peer, whatever the headers claim
    ("203.0.113.7", ["1.2.3.4"], "5.6.7.8", (), "203.0.113.7"),
    (None, ["198.51.100.1"], None, (), "127.0.0.1"),  # a local proxy nobody configured: one loopback client
    # a peer that is not a trusted proxy: its headers are ignored
    ("203.0.113.7", ["1.2.3.4"], None, PROXIES, "203.0.113.7"),
    (None, ["1.2.3.4"], None, PROXIES, "127.0.0.1"),
    # a trusted proxy: the rightmost address that is not a trusted proxy
    (None, ["198.51.100.1"], None, LOCAL_PROXY, "198.51.100.1"),
    (None, ["6.6.6.6, 198.51.100.1"], None, LOCAL_PROXY, "198.51.100.1"),  # the client's own claim is left of it
    ("10.1.2.3", ["6.6.6.6, 198.51.100.1, 10.9.9.9"], None, PROXIES, "198.51.100.1"),  # two proxy hops
    ("10.1.2.3", ["6.6.6.6", "198.51.100.1"], None, PROXIES, "198.51.100.1"),  # repeated headers, in order
    ("10.1.2.3", ["10.5.5.5, 10.9.9.9"], None, PROXIES, "10.5.5.5"),  # all hops trusted: the leftmost
    ("10.1.2.3", ["not-an-address, 10.9.9.9"], None, PROXIES, "10.9.9.9"),  # garbage: the last genuine hop
    ("10.1.2.3", ["198.51.100.1:5123"], None, PROXIES, "198.51.100.1"),
    ("10.1.2.3", ["[2001:db8::1]:443"], None, PROXIES, "2001:db8::1"),
    # X-Real-IP only from a trusted proxy and only without X-Forwarded-For
    ("192.0.2.10", [], "198.51.100.9", PROXIES, "198.51.100.9"),
    ("203.0.113.7", [], "198.51.100.9", PROXIES, "203.0.113.7"),
    ("192.0.2.10", [], "garbage", PROXIES, "192.0.2.10"),
    ("::ffff:203.0.113.7", [], None, (), "203.0.113.7"),  # IPv4-mapped: one address, one bucket
])
def test_picks_the_client_address(peer, xff, real_ip, trusted, expected):
    assert client_address(peer=peer, forwarded_for=xff, real_ip=real_ip, trusted=trusted) == expected


def test_a_local_proxy_on_ipv6_loopback_is_trusted_by_listing_it():
    assert client_address(peer=None, forwarded_for=["198.51.100.1"], trusted=parse_trusted_proxies("::1")) \
        == "198.51.100.1"


@pytest.mark.parametrize("text,expected", [("203.0.113.7", "203.0.113.7"), (" 2001:db8::1 ", "2001:db8::1"),
                                           ("unknown", None), ("", None), (None, None)])
def test_parses_addresses_from_header_items(text, expected):
    address = parse_address(text)
    assert (str(address) if address else None) == expected


def test_the_setting_reads_addresses_and_networks_and_names_itself_when_wrong(tmp_path):
    env = {"KVORUM_SECRETS_FILE": str(tmp_path / "none.toml")}
    assert load_settings(env).trusted_proxies == ()
    got = load_settings(env | {"KVORUM_TRUSTED_PROXIES": "127.0.0.1,10.0.0.0/8 ::1"}).trusted_proxies
    assert [str(n) for n in got] == ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]
    with pytest.raises(SettingsError, match="KVORUM_TRUSTED_PROXIES"):
        load_settings(env | {"KVORUM_TRUSTED_PROXIES": "localhost"})
