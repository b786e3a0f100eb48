"""Forwards never reach private networks (DESIGN "Forwarding"): the address guard.

`refusal` is pure: given the addresses a host name resolved to, it says why one of
them may not be reached, or None. Loopback, private, link-local (169.254.0.0/16:
cloud metadata), multicast, reserved, unspecified and every other non-global range
are refused, in IPv4 and IPv6 (an IPv4-mapped IPv6 address is judged as its IPv4),
unless HOOKBOT_FORWARD_ALLOW lists a network holding the address. It is applied when
a forward is added and again before every send, to the very addresses the request
then connects to (a name that later resolves elsewhere, DNS rebinding, is caught).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class ForwardRefusedError(OSError):
    """A forward's host is (or resolves to) an address forwards may not reach."""


def parse_allow(text: str) -> tuple[IPNetwork, ...]:
    """Read HOOKBOT_FORWARD_ALLOW: CIDRs separated by commas or spaces (`127.0.0.1/32`).

    Raises:
        ValueError: an item that is not a network; the message names it.
    """
    networks: list[IPNetwork] = []
    for item in text.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not a CIDR network such as 10.0.0.0/8") from None
    return tuple(networks)


def _kind(address: IPAddress) -> str | None:
    """Name the non-public range an address is in, or None for a public address."""
    checks = (
        ("loopback", address.is_loopback),
        ("link-local (cloud metadata)", address.is_link_local),
        ("multicast", address.is_multicast),
        ("unspecified", address.is_unspecified),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
    )
    for name, hit in checks:
        if hit:
            return name
    return None if address.is_global else "non-public"


def refusal(addresses: Iterable[str], allow: Sequence[IPNetwork] = ()) -> str | None:
    """Return why one of `addresses` may not be reached by a forward, or None if all may.

    Pure: no socket is opened. An empty list is refused (nothing to connect to).
    """
    found = False
    for text in addresses:
        found = True
        try:
            address: IPAddress = ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError:
            return f"{text!r} is not an IP address"
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address.version == net.version and address in net for net in allow):
            continue
        kind = _kind(address)
        if kind is not None:
            return (
                f"{address} is not a public address ({kind}); forwards only reach public ones "
                "(HOOKBOT_FORWARD_ALLOW lists networks to allow)"
            )
    return None if found else "the host resolved to no address"


async def resolve(host: str, port: int) -> list[str]:
    """Return every address `host` resolves to (an IP literal: itself), without connecting."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        return [host.strip("[]")]
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ForwardRefusedError(f"cannot resolve {host}: {exc}") from exc
    return sorted({str(info[4][0]) for info in infos})


def host_and_port(url: str) -> tuple[str, int]:
    """Return the host and port an http(s) URL connects to.

    Raises:
        ValueError: not an http(s) URL with a host.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("give an http(s) URL with a host")
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


async def check_url(url: str, allow: Sequence[IPNetwork]) -> list[str]:
    """Resolve a forward's URL and check every address; return the addresses.

    Raises:
        ForwardRefusedError: the host cannot be resolved, or an address is refused.
    """
    try:
        host, port = host_and_port(url)
    except ValueError as exc:
        raise ForwardRefusedError(str(exc)) from None
    addresses = await resolve(host, port)
    reason = refusal(addresses, allow)
    if reason is not None:
        raise ForwardRefusedError(f"{host}: {reason}")
    return addresses
