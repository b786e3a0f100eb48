"""The forward guard: a pure function of resolved addresses (no socket is opened here)."""

from __future__ import annotations

import pytest

from bot.delivery.guard import host_and_port, parse_allow, refusal

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("::1", "loopback"),
    ("10.0.0.1", "private"),
    ("172.16.5.4", "private"),
    ("192.168.1.1", "private"),
    ("fd00::1", "private"),
    ("169.254.169.254", "link-local"),
    ("fe80::1", "link-local"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("0.0.0.0", "unspecified"),  # noqa: S104 - an address to refuse, not to bind
    ("::", "unspecified"),
    ("100.64.0.1", "non-public"),  # carrier-grade NAT
    ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped: judged as its IPv4
    ("::ffff:169.254.169.254", "link-local"),
]
PUBLIC = ["93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2001:4860:4860::8888"]


@pytest.mark.parametrize(("address", "kind"), REFUSED)
def test_non_public_addresses_are_refused(address: str, kind: str):
    """Each non-public range is refused, naming the range."""
    reason = refusal([address])
    assert reason is not None
    assert kind in reason


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str):
    """Public IPv4 and IPv6 addresses may be reached."""
    assert refusal([address]) is None


def test_one_private_address_among_public_ones_refuses_the_host():
    """Every address a name resolves to is checked, not only the first."""
    assert refusal(["93.184.216.34", "10.0.0.1"]) is not None
    assert refusal(["93.184.216.34", "8.8.8.8"]) is None


def test_no_address_is_refused():
    """A host that resolved to nothing has nothing safe to connect to."""
    assert refusal([]) is not None


def test_allow_list_opens_only_its_networks():
    """HOOKBOT_FORWARD_ALLOW=127.0.0.1/32 allows that address, not its neighbours."""
    allow = parse_allow("127.0.0.1/32")
    assert refusal(["127.0.0.1"], allow) is None
    assert refusal(["127.0.0.2"], allow) is not None
    assert refusal(["169.254.169.254"], allow) is not None
    wide = parse_allow("10.0.0.0/8, fd00::/8")
    assert refusal(["10.1.2.3", "fd00::1"], wide) is None
    assert refusal(["192.168.1.1"], wide) is not None


def test_allow_list_rejects_what_is_not_a_network():
    """A typo in HOOKBOT_FORWARD_ALLOW is named."""
    with pytest.raises(ValueError, match="banana"):
        parse_allow("127.0.0.1/32,banana")


def test_host_and_port_of_urls():
    """Default ports by scheme; a URL without a host, or not http(s), is refused."""
    assert host_and_port("https://example.com/x") == ("example.com", 443)
    assert host_and_port("http://127.0.0.1:8080/x") == ("127.0.0.1", 8080)
    assert host_and_port("http://[::1]:81/") == ("::1", 81)
    with pytest.raises(ValueError, match="http"):
        host_and_port("ftp://example.com/")
    with pytest.raises(ValueError, match="host"):
        host_and_port("http:///nohost")
