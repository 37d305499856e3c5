"""Which proxy a request goes through: ``HTTP_PROXY``, ``HTTPS_PROXY`` and ``NO_PROXY``, read as
Go's ``net/http`` (``golang.org/x/net/http/httpproxy``) and curl read them.

- ``HTTPS_PROXY`` serves https URLs, ``HTTP_PROXY`` plain http ones; the upper-case name wins over
  the lower-case one; an empty value means none. ``host:port`` means ``http://host:port``;
  ``http://user:password@proxy:3128`` carries the proxy's own credentials (percent-decoded).
- ``NO_PROXY`` is a comma-separated list (spaces around entries ignored, case-insensitive):
  ``*`` alone (no proxy at all); an IP address (``10.1.2.3``, ``::1``, ``[::1]``); a CIDR range
  (``10.0.0.0/8``, ``fd00::/8``); a domain, which matches itself and every subdomain
  (``example.com`` -> ``example.com``, ``a.b.example.com``); a leading ``.`` or ``*.`` matches
  subdomains only (``.example.com`` -> ``a.example.com``, not ``example.com``, as Go has it; curl
  also takes the bare domain). An entry with ``:PORT`` matches that port only; the port of a URL
  without one is its scheme's (443, 80).
- ``localhost`` and loopback addresses never go through a proxy (Go's rule; curl proxies them
  unless NO_PROXY says otherwise), so registries on this machine are always reached directly.

Pure: no I/O; the environment is read where a :class:`ProxyEnv` is made.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from hoist.config.settings import parse_proxy_url

__all__ = ["NoProxy", "ProxyEnv", "proxy_credentials", "redact_proxy"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _split_host_port(text: str) -> tuple[str, int | None]:
    """``host``/``host:port``/``[v6]:port``/``v6`` -> (host without brackets, port)."""
    text = text.strip().lower()
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return text, None
        host, rest = text[1:end], text[end + 1 :]
        port = rest[1:] if rest.startswith(":") else ""
        return host, int(port) if port.isdigit() else None
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, int(port) if port.isdigit() else None
    return text, None  # a bare IPv6 address, or no port


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class _Entry:
    domain: str | None = None
    subdomains_only: bool = False
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    network: _Network | None = None
    port: int | None = None


class NoProxy:
    """A parsed ``NO_PROXY`` value; :meth:`matches` says whether a host bypasses the proxy."""

    def __init__(self, value: str = "") -> None:
        self.value = value
        self.everything = False
        entries: list[_Entry] = []
        for raw in value.split(","):
            item = raw.strip().lower()
            if not item:
                continue
            if item == "*":
                self.everything = True
                continue
            if "/" in item:
                with contextlib.suppress(ValueError):  # not a CIDR range: ignored, as Go does
                    entries.append(_Entry(network=ipaddress.ip_network(item, strict=False)))
                continue
            host, port = _split_host_port(item)
            address = _ip(host)
            if address is not None:
                entries.append(_Entry(ip=address, port=port))
                continue
            subdomains_only = host.startswith((".", "*."))
            domain = host.lstrip("*").lstrip(".")
            if domain:
                entries.append(_Entry(domain=domain, subdomains_only=subdomains_only, port=port))
        self.entries = tuple(entries)

    def matches(self, host: str, port: int | None = None) -> bool:
        """Whether ``host`` (a name or an address, brackets optional) at ``port`` is excluded."""
        if self.everything:
            return True
        host = host.strip().lower().strip("[]").rstrip(".")
        address = _ip(host)
        for entry in self.entries:
            if entry.port is not None and entry.port != port:
                continue
            if entry.network is not None:
                if address is not None and _within(address, entry.network):
                    return True
            elif entry.ip is not None:
                if address is not None and address == entry.ip:
                    return True
            elif entry.domain is not None and address is None:
                if host.endswith("." + entry.domain):
                    return True
                if host == entry.domain and not entry.subdomains_only:
                    return True
        return False


def _within(address: ipaddress.IPv4Address | ipaddress.IPv6Address, network: _Network) -> bool:
    return address.version == network.version and address in network


def _is_local(host: str) -> bool:
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    address = _ip(name)
    return address is not None and address.is_loopback


class ProxyEnv:
    """The proxies of an environment (``os.environ`` by default), or given explicitly.

    ``proxy`` (a URL, or ``direct``) replaces HTTP(S)_PROXY for every scheme; ``no_proxy``
    replaces NO_PROXY. :meth:`proxy_for` answers for one URL.
    """

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        *,
        proxy: str | None = None,
        no_proxy: str | None = None,
    ) -> None:
        env = os.environ if environ is None else environ

        def get(name: str) -> str:
            return (env.get(name.upper()) or env.get(name.lower()) or "").strip()

        if proxy is not None:
            chosen = parse_proxy_url(proxy, "proxy")
            self.http = self.https = None if chosen == "direct" else chosen
        else:
            self.http = (
                parse_proxy_url(get("http_proxy"), "HTTP_PROXY") if get("http_proxy") else None
            )
            self.https = (
                parse_proxy_url(get("https_proxy"), "HTTPS_PROXY") if get("https_proxy") else None
            )
        self.no_proxy = NoProxy(get("no_proxy") if no_proxy is None else no_proxy)

    def proxy_for(self, url: str) -> str | None:
        """The proxy URL for ``url``, or None to connect directly."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        proxy = self.https if scheme == "https" else self.http if scheme == "http" else None
        if proxy is None:
            return None
        host, port = _split_host_port(parts.netloc.rpartition("@")[2])
        if _is_local(host):
            return None
        if self.no_proxy.matches(host, port or _DEFAULT_PORTS.get(scheme)):
            return None
        return proxy


def proxy_credentials(proxy: str) -> tuple[str, str] | None:
    """``(user, password)`` from a proxy URL (percent-decoded), or None."""
    parts = urlsplit(proxy)
    if parts.username is None:
        return None
    return unquote(parts.username), unquote(parts.password or "")


def redact_proxy(proxy: str) -> str:
    """The proxy URL without its credentials, for messages: ``http://proxy:3128``."""
    parts = urlsplit(proxy)
    netloc = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{netloc}"
