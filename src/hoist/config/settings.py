"""Hoist's own per-registry settings (TLS mode, CA file), kept in a small JSON file.

The file is ``$HOIST_CONFIG`` when set, else ``$XDG_CONFIG_HOME/hoist/config.json`` (``~/.config``
by default)::

    {"registries": {"localhost:5000": {"tls": "disabled"},
                    "reg.example:443": {"tls": "enabled", "ca_file": "/etc/ssl/my-ca.pem"}}}

Keys other than ``registries`` are kept as they are when the file is saved.
"""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, cast, get_args

from hoist.errors import InvalidInput
from hoist.fsutil import write_atomic
from hoist.model.jsonvalue import parse_json

__all__ = [
    "HoistConfig",
    "RegistrySettings",
    "TLSMode",
    "atomic_write_json",
    "config_path",
    "is_loopback",
    "load_config",
    "normalize_host",
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


@dataclass(frozen=True, slots=True)
class RegistrySettings:
    """How to reach one registry."""

    tls: TLSMode = "enabled"
    ca_file: str | None = None
    """A PEM file of CA certificates to trust for this registry (instead of the system's)."""

    def __post_init__(self) -> None:
        if self.tls not in _TLS_MODES:
            raise InvalidInput(
                f"invalid tls mode {self.tls!r}: want one of {', '.join(_TLS_MODES)}"
            )

    @classmethod
    def from_json(cls, data: Any, where: str = "") -> RegistrySettings:
        """Build from the JSON object stored for a registry."""
        if not isinstance(data, Mapping):
            raise InvalidInput(f"{where}: registry settings must be an object")
        ca_file = data.get("ca_file")
        if ca_file is not None and not isinstance(ca_file, str):
            raise InvalidInput(f"{where}: ca_file must be a string")
        try:
            return cls(tls=cast(TLSMode, data.get("tls", "enabled")), ca_file=ca_file)
        except InvalidInput as exc:
            raise InvalidInput(f"{where}: {exc}") from None

    def to_json(self) -> dict[str, Any]:
        """The JSON object stored for a registry."""
        data: dict[str, Any] = {"tls": self.tls}
        if self.ca_file is not None:
            data["ca_file"] = self.ca_file
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
