"""Which IP addresses are internal: the ones a wildcard allow-list rule never reaches.

Loopback, private, link-local, carrier-grade NAT, multicast, reserved and cloud-metadata
addresses, including IPv4 addresses carried inside IPv6 forms (mapped, 6to4, Teredo, NAT64),
so that writing an internal address in another notation gets nowhere.
"""

from __future__ import annotations

import ipaddress

__all__ = ["IPAddress", "non_public_reason"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def non_public_reason(ip: IPAddress) -> str | None:
    """Why `ip` is internal ("a loopback address", ...), or None for a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return non_public_reason(embedded)
    if ip in _METADATA:
        return "a cloud metadata address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        # fec0::/10: deprecated, yet still routed inside some networks; `is_global` says yes.
        return "a site-local address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "a carrier-grade NAT (CGNAT) address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private or ip.is_unspecified or ip.is_reserved or not ip.is_global:
        return "a private or reserved address"
    return None
