"""Issue 16, item 3: a voting link (PUBLIC_URL) that leads an owner's device to itself or to this
machine only is caught before any notice carries it."""
from __future__ import annotations

import pytest

from services.public_link import local_link_warning, points_to_this_machine

MACHINE = "kvorum-box"


@pytest.mark.parametrize("url", [
    "http://localhost:8501",  # the default when PUBLIC_URL is unset
    "http://localhost",
    "https://LOCALHOST:8443/",
    "http://localhost.:8501",  # a trailing dot is the same name
    "http://localhost.localdomain",
    "http://vote.localhost",  # RFC 6761: every name under localhost
    "http://127.0.0.1:8501",
    "http://127.1.2.3",  # all of 127.0.0.0/8 is loopback
    "http://[::1]:8501",
    "http://[::ffff:127.0.0.1]:8501",  # IPv4-mapped loopback
    "http://0.0.0.0:8501",  # the address a server listens on, not one to open
    "http://[::]:8501",
    "http://kvorum-box:8501",  # this machine's bare name
    "http://KVORUM-BOX",
    "localhost:8501",  # no scheme: still the local name
    "",
    "http://",
    "http://[",  # no parsable host at all
])
def test_a_link_to_this_machine_is_local(url):
    assert points_to_this_machine(url, hostname=MACHINE) is True


@pytest.mark.parametrize("url", [
    "https://kvorum.example.ru",
    "https://kvorum.example.ru:8443/",
    "http://203.0.113.7:8501",  # a public address
    "http://10.0.0.5:8501",  # another machine on the network: not this one
    "http://[2001:db8::1]:8501",
    "kvorum.example.ru",  # no scheme: the host is still the public name
    "http://kvorum-box.example.ru",  # the machine's name with a domain: may be its public name
    "http://other-box:8501",  # another machine's bare name
    "http://localhost-proxy.example.ru",  # «localhost» only as part of a longer name
])
def test_a_link_to_another_host_is_not_local(url):
    assert points_to_this_machine(url, hostname=MACHINE) is False


def test_the_machine_name_counts_only_when_given_and_bare():
    assert points_to_this_machine("http://kvorum-box:8501", hostname="") is False
    assert points_to_this_machine("http://kvorum-box:8501", hostname="kvorum-box.") is True
    # a machine named after its public address: that address is the right link
    assert points_to_this_machine("https://kvorum.example.ru", hostname="kvorum.example.ru") is False


def test_the_warning_names_the_dead_link_and_how_to_fix_it():
    text = local_link_warning("http://localhost:8501/", hostname=MACHINE)
    assert "http://localhost:8501/vote" in text and "PUBLIC_URL" in text
    assert "у собственников она не откроется" in text
    assert local_link_warning("https://kvorum.example.ru", hostname=MACHINE) is None
