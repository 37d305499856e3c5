"""Hoist's own per-registry settings, kept in a small JSON file.

The file is ``$HOIST_CONFIG`` when set, else ``$XDG_CONFIG_HOME/hoist/config.json`` (``~/.config``
by default)::

    {"registries": {
        "localhost:5000": {"tls": "disabled"},
        "reg.example:443": {"tls": "enabled", "ca_file": "/etc/ssl/my-ca.pem",
                            "client_cert": "/etc/hoist/me.crt", "client_key": "/etc/hoist/me.key",
                            "proxy": "http://proxy.corp:3128",
                            "req_per_sec": 10, "req_concurrent": 4},
        "docker.io": {"mirrors": [{"location": "mirror.corp/hub", "priority": 10}]}}}

Per registry: ``tls`` (enabled | insecure | disabled), ``ca_file`` (CAs to trust instead of the
system's), ``client_cert``/``client_key`` (mTLS), ``mirrors`` (tried first for reads, highest
``priority`` first), ``req_per_sec`` and ``req_concurrent`` (throttles), ``proxy`` (a URL, or
``direct`` for none, whatever the environment says). Keys other than ``registries`` are kept as
they are when the file is saved.
"""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, cast, get_args
from urllib.parse import urlsplit

from hoist.errors import InvalidInput
from hoist.fsutil import write_atomic
from hoist.model.jsonvalue import parse_json

__all__ = [
    "HoistConfig",
    "Mirror",
    "RegistrySettings",
    "TLSMode",
    "atomic_write_json",
    "config_path",
    "is_loopback",
    "load_config",
    "normalize_host",
    "parse_proxy_url",
    "read_json_file",
    "save_config",
    "set_registry",
    "unset_registry",
]

TLSMode = Literal["enabled", "insecure", "disabled"]
"""``enabled``: https, certificate verified; ``insecure``: https without verification (plain http if
the registry does not speak TLS); ``disabled``: plain http."""

_TLS_MODES: tuple[str, ...] = get_args(TLSMode)


def is_loopback(host: str) -> bool:
    """``localhost``, ``127.0.0.0/8`` or ``::1``, with or without a port."""
    name = host.strip().lower()
    if name.startswith("["):
        name = name[1 : name.find("]")]
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def normalize_host(text: str) -> str:
    """``https://Reg.Example:5000/v2/`` -> ``reg.example:5000``: the key hosts are stored under."""
    host = text.strip()
    if "://" in host:
        host = host.split("://", 1)[1]
    return host.split("/", 1)[0].lower()


def parse_proxy_url(text: str, where: str = "proxy") -> str:
    """A proxy URL as Go and curl take it (``host:port`` means ``http://host:port``), checked:
    scheme http or https, a host; ``direct`` (no proxy) passes as it is."""
    value = text.strip()
    if value == "direct":
        return value
    if "://" not in value:
        value = "http://" + value
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidInput(
            f"{where}: {parts.scheme}:// proxies are not supported; want http:// or https://"
        )
    try:
        port = parts.port
    except ValueError:
        raise InvalidInput(f"{where}: invalid port in proxy URL") from None
    if not parts.hostname or (port is not None and not 0 < port < 65536):
        raise InvalidInput(f"{where}: want a proxy URL like http://proxy:3128, not {text!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise InvalidInput(f"{where}: a proxy URL has no path")
    return value


@dataclass(frozen=True, slots=True)
class Mirror:
    """A registry that serves copies of another's repositories: ``host[:port][/prefix]``
    (the prefix goes in front of each repository name). Higher ``priority`` is tried first."""

    location: str
    priority: int = 0

    def __post_init__(self) -> None:
        location = self.location.strip()
        if "://" in location:
            location = location.split("://", 1)[1]
        location = location.rstrip("/")
        host = location.partition("/")[0]
        if not host or any(c in location for c in " \t@?#"):
            raise InvalidInput(f"invalid mirror {self.location!r}: want host[:port][/prefix]")
        if isinstance(self.priority, bool) or not isinstance(self.priority, int):
            raise InvalidInput(f"mirror priority must be a whole number, not {self.priority!r}")
        object.__setattr__(self, "location", host.lower() + location[len(host) :])

    @property
    def host(self) -> str:
        """``host[:port]`` of the mirror."""
        return self.location.partition("/")[0]

    @property
    def prefix(self) -> str:
        """What goes before each repository name on the mirror (``""`` for none)."""
        return self.location.partition("/")[2]

    def to_json(self) -> dict[str, Any]:
        return {"location": self.location, "priority": self.priority}


@dataclass(frozen=True, slots=True)
class RegistrySettings:
    """How to reach one registry."""

    tls: TLSMode = "enabled"
    ca_file: str | None = None
    """A PEM file of CA certificates to trust for this registry (instead of the system's)."""
    client_cert: str | None = None
    """A PEM client certificate for mTLS (its key in ``client_key``, or in the same file)."""
    client_key: str | None = None
    mirrors: tuple[Mirror, ...] = ()
    """Registries that reads try first; kept sorted, highest priority first."""
    req_per_sec: float | None = None
    """At most this many requests a second to the registry (None: no limit)."""
    req_concurrent: int | None = None
    """At most this many requests in flight at once to the registry (None: no limit)."""
    proxy: str | None = None
    """The proxy for this registry (``direct``: none), instead of HTTP(S)_PROXY."""

    def __post_init__(self) -> None:
        if self.tls not in _TLS_MODES:
            raise InvalidInput(
                f"invalid tls mode {self.tls!r}: want one of {', '.join(_TLS_MODES)}"
            )
        for name in ("ca_file", "client_cert", "client_key"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise InvalidInput(f"{name} must be a string")
        if self.client_key is not None and self.client_cert is None:
            raise InvalidInput("client_key needs a client_cert")
        mirrors = tuple(self.mirrors)
        if not all(isinstance(m, Mirror) for m in mirrors):
            raise InvalidInput("mirrors must be Mirror values")
        ordered = sorted(mirrors, key=lambda m: -m.priority)
        object.__setattr__(self, "mirrors", tuple(ordered))
        rate = self.req_per_sec
        if rate is not None:
            if isinstance(rate, bool) or not isinstance(rate, int | float) or not rate > 0:
                raise InvalidInput(f"req_per_sec must be a number above 0, not {rate!r}")
            if rate == float("inf"):
                raise InvalidInput("req_per_sec must be finite")
        count = self.req_concurrent
        if count is not None and (
            isinstance(count, bool) or not isinstance(count, int) or count < 1
        ):
            raise InvalidInput(f"req_concurrent must be a whole number above 0, not {count!r}")
        if self.proxy is not None:
            object.__setattr__(self, "proxy", parse_proxy_url(self.proxy))

    def with_mirror(self, mirror: Mirror) -> RegistrySettings:
        """A copy with ``mirror`` added (replacing one at the same location)."""
        kept = [m for m in self.mirrors if m.location != mirror.location]
        return replace(self, mirrors=(*kept, mirror))

    def without_mirror(self, location: str | None = None) -> RegistrySettings:
        """A copy without the mirror at ``location`` (every mirror when None)."""
        if location is None:
            return replace(self, mirrors=())
        drop = Mirror(location).location
        if all(m.location != drop for m in self.mirrors):
            raise InvalidInput(f"no mirror {drop} is set")
        return replace(self, mirrors=tuple(m for m in self.mirrors if m.location != drop))

    @classmethod
    def from_json(cls, data: Any, where: str = "") -> RegistrySettings:
        """Build from the JSON object stored for a registry."""
        if not isinstance(data, Mapping):
            raise InvalidInput(f"{where}: registry settings must be an object")
        try:
            for name in ("ca_file", "client_cert", "client_key", "proxy"):
                value = data.get(name)
                if value is not None and not isinstance(value, str):
                    raise InvalidInput(f"{name} must be a string")
            raw_mirrors = data.get("mirrors") or []
            if not isinstance(raw_mirrors, list):
                raise InvalidInput("mirrors must be a list")
            mirrors = []
            for item in raw_mirrors:
                if isinstance(item, str):
                    item = {"location": item}
                if not isinstance(item, Mapping) or not isinstance(item.get("location"), str):
                    raise InvalidInput("each mirror must be an object with a location")
                mirrors.append(Mirror(item["location"], item.get("priority", 0)))
            return cls(
                tls=cast(TLSMode, data.get("tls", "enabled")),
                ca_file=data.get("ca_file"),
                client_cert=data.get("client_cert"),
                client_key=data.get("client_key"),
                mirrors=tuple(mirrors),
                req_per_sec=data.get("req_per_sec"),
                req_concurrent=data.get("req_concurrent"),
                proxy=data.get("proxy"),
            )
        except InvalidInput as exc:
            raise InvalidInput(f"{where}: {exc}") from None

    def to_json(self) -> dict[str, Any]:
        """The JSON object stored for a registry."""
        data: dict[str, Any] = {"tls": self.tls}
        for name in ("ca_file", "client_cert", "client_key"):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
        if self.mirrors:
            data["mirrors"] = [m.to_json() for m in self.mirrors]
        for name in ("req_per_sec", "req_concurrent", "proxy"):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
        return data


_DEFAULT = RegistrySettings()


@dataclass(frozen=True)
class HoistConfig:
    """Hoist's config file, loaded. ``registry(host)`` is the lookup a Transport takes."""

    registries: Mapping[str, RegistrySettings] = field(default_factory=lambda: MappingProxyType({}))
    other: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    """Top-level keys hoist does not know, kept as they were."""

    def registry(self, host: str) -> RegistrySettings:
        """The settings for ``host``; defaults when it has none."""
        return self.registries.get(normalize_host(host), _DEFAULT)

    def with_registry(self, host: str, settings: RegistrySettings) -> HoistConfig:
        """A copy with ``host`` set to ``settings``."""
        registries = {**self.registries, normalize_host(host): settings}
        return HoistConfig(MappingProxyType(registries), self.other)

    def without_registry(self, host: str) -> HoistConfig:
        """A copy with no settings for ``host``."""
        key = normalize_host(host)
        registries = {k: v for k, v in self.registries.items() if k != key}
        return HoistConfig(MappingProxyType(registries), self.other)

    def to_json(self) -> dict[str, Any]:
        return {
            **self.other,
            "registries": {k: v.to_json() for k, v in sorted(self.registries.items())},
        }


def config_path() -> Path:
    """``$HOIST_CONFIG``, else ``$XDG_CONFIG_HOME/hoist/config.json`` (``~/.config`` by default)."""
    explicit = os.environ.get("HOIST_CONFIG")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "hoist" / "config.json"


def read_json_file(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``; ``{}`` when the file does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if not text.strip():
        return {}
    data = parse_json(text, what=str(path))
    if not isinstance(data, dict):
        raise InvalidInput(f"{path}: want a JSON object at the top")
    return data


def atomic_write_json(path: Path, data: Mapping[str, Any], mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` via a temporary file and a rename: readers never see half."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = json.dumps(data, indent="\t") + "\n"
    write_atomic(path, text.encode("utf-8"), mode=mode)


def load_config(path: Path | str | None = None) -> HoistConfig:
    """Load hoist's config (``config_path()`` by default); a missing file is an empty config."""
    where = Path(path) if path is not None else config_path()
    data = read_json_file(where)
    raw = data.get("registries", {})
    if not isinstance(raw, dict):
        raise InvalidInput(f"{where}: registries must be an object")
    registries = {
        normalize_host(host): RegistrySettings.from_json(value, f"{where}: {host}")
        for host, value in raw.items()
    }
    other = {k: v for k, v in data.items() if k != "registries"}
    return HoistConfig(MappingProxyType(registries), MappingProxyType(other))


def save_config(config: HoistConfig, path: Path | str | None = None) -> None:
    """Write ``config`` atomically (``config_path()`` by default)."""
    atomic_write_json(Path(path) if path is not None else config_path(), config.to_json())


def set_registry(
    host: str, settings: RegistrySettings, path: Path | str | None = None
) -> HoistConfig:
    """Load the config, set ``host`` to ``settings``, save; returns the new config."""
    config = load_config(path).with_registry(host, settings)
    save_config(config, path)
    return config


def unset_registry(host: str, path: Path | str | None = None) -> HoistConfig:
    """Load the config, drop ``host``'s settings, save; returns the new config."""
    config = load_config(path).without_registry(host)
    save_config(config, path)
    return config
