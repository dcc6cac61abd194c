"""Whether the voting link (PUBLIC_URL) can work for the owners at all.

Every e-mail, the QR codes of the paper notices, the text for ГИС ЖКХ and the protocol's notice
carry `PUBLIC_URL/vote`. Unset, it is http://localhost:8501 — a link that opens the owner's own
computer, not this server. The decision is a pure function of the address and the machine's name,
so it is tested without a network; the page asks the analyst to set PUBLIC_URL or to confirm.
"""
from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

# RFC 6761: «localhost» and every name under it are this machine, whatever a resolver says.
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def machine_name() -> str:
    """The name this machine gives itself (the input the page passes to `points_to_this_machine`)."""
    try:
        return socket.gethostname()
    except OSError:
        return ""


def points_to_this_machine(url: str, *, hostname: str = "") -> bool:
    """True when `url` leads an owner's device to itself or to this machine only: localhost, a
    loopback address (127.0.0.0/8, ::1), the unspecified address (0.0.0.0, ::), no host at all, or
    `hostname`, this machine's bare name (no domain: nobody else's resolver knows it).

    A name with a domain equal to the machine's name is not flagged: a server is often named after
    its public address (kvorum.example.ru), and then the link is right.
    """
    url = str(url or "").strip()
    if url and "://" not in url:
        url = "//" + url  # «kvorum.example.ru:8501»: a host without a scheme, not a scheme «kvorum.example.ru»
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:  # e.g. an unbalanced «[» in the address: no usable host
        return True
    host = host.rstrip(".").lower()
    if not host:
        return True
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])  # an IPv6 zone («fe80::1%eth0») is no part of it
    except ValueError:
        own = (hostname or "").rstrip(".").lower()
        return bool(own) and "." not in own and host == own
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_unspecified


def local_link_warning(public_url: str, *, hostname: str = "") -> str | None:
    """The Russian warning for a voting link that leads nowhere for the owners, or None."""
    if not points_to_this_machine(public_url, hostname=hostname):
        return None
    return (f"Ссылка на страницу голосования в уведомлениях — {public_url.rstrip('/')}/vote — ведёт на этот "
            "компьютер: у собственников она не откроется. Задайте PUBLIC_URL — адрес, по которому собственники "
            "открывают Kvorum (например, https://kvorum.example.ru), — в .streamlit/secrets.toml или в переменной "
            "окружения и перезапустите приложение. Ссылка попадёт в письма, QR-коды бумажных уведомлений и текст "
            "для ГИС ЖКХ.")
