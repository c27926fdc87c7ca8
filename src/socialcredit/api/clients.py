"""Who is on the other end: the client address behind a trusted proxy, and the operator's
network.

* :class:`TrustedProxies` (ASGI middleware) believes ``X-Forwarded-For`` and
  ``X-Forwarded-Proto`` only from the proxies listed in ``settings.trusted_proxies`` (IPs or
  CIDR networks; default: none, so a forged header from anywhere, loopback included, changes
  nothing). The client is then the right-most forwarded address that is not itself a trusted
  proxy, and the scheme the proxy saw (``https`` makes the session cookie ``Secure``). ``serve``
  turns uvicorn's own proxy-header handling off, so this is the only place that decides.
* :func:`in_operator_network` — whether the client address is inside
  ``settings.operator_networks`` (default: loopback only): ``/metrics`` and the ledger head on
  ``/healthz`` are served there and nowhere else.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from socialcredit.errors import ConfigError

__all__ = ["TrustedProxies", "in_operator_network", "networks"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=64)
def networks(spec: tuple[str, ...]) -> tuple[Network, ...]:
    """Parse IPs / CIDRs.

    Raises:
        ConfigError: an entry is not an IP address or network.
    """
    out = []
    for item in spec:
        try:
            out.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError as e:
            raise ConfigError(f"{item!r} is not an IP address or network: {e}") from e
    return tuple(out)


def _inside(host: str | None, nets: Iterable[Network]) -> bool:
    if not host:
        return False
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(addr in n for n in nets)


def in_operator_network(request: Any) -> bool:
    """True when the (proxy-resolved) client address is in ``settings.operator_networks``."""
    settings = request.app.state.registry.settings
    host = request.client.host if request.client else None
    return _inside(host, networks(tuple(settings.operator_networks)))


class TrustedProxies:
    """Resolve the client address and scheme from a trusted proxy's headers (see module)."""

    def __init__(self, app: Any, proxies: Iterable[str]) -> None:
        self.app = app
        self.nets = networks(tuple(proxies))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket") and self.nets:
            client = scope.get("client")
            if client and _inside(client[0], self.nets):
                headers = dict(scope.get("headers") or [])
                forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1")
                hops = [h.strip() for h in forwarded.split(",") if h.strip()]
                while hops and _inside(hops[-1], self.nets):
                    hops.pop()
                if hops:
                    scope = {**scope, "client": (hops[-1], 0)}
                proto = headers.get(b"x-forwarded-proto", b"").decode("latin-1").strip()
                if proto in ("http", "https"):
                    scope = {**scope, "scheme": proto}
        await self.app(scope, receive, send)
