"""Image configs: run-time defaults, rootfs diff_ids and history."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hoist.errors import InvalidConfig
from hoist.model.descriptor import Annotations
from hoist.model.digest import Digest, digest_of
from hoist.model.jsonvalue import parse_json
from hoist.model.platform import Platform

__all__ = ["ContainerConfig", "History", "ImageConfig", "parse_config"]


def _strs(value: Any, where: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidConfig(f"{where} must be a list of strings")
    return tuple(value)


def _str(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidConfig(f"{where} must be a string")
    return value


def _keys(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise InvalidConfig(f"{where} must be an object")
    return tuple(value)


@dataclass(frozen=True, slots=True)
class ContainerConfig:
    """The ``config`` section: defaults for containers run from the image."""

    user: str = ""
    env: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    working_dir: str = ""
    labels: Annotations = field(default_factory=Annotations)
    exposed_ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    stop_signal: str = ""

    @classmethod
    def from_dict(cls, obj: Any) -> ContainerConfig:
        if obj is None:
            return cls()
        if not isinstance(obj, dict):
            raise InvalidConfig("config must be an object")
        labels = {} if obj.get("Labels") is None else obj["Labels"]
        if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
            raise InvalidConfig("config.Labels must map strings to strings")
        return cls(
            user=_str(obj.get("User"), "config.User"),
            env=_strs(obj.get("Env"), "config.Env") or (),
            entrypoint=_strs(obj.get("Entrypoint"), "config.Entrypoint"),
            cmd=_strs(obj.get("Cmd"), "config.Cmd"),
            working_dir=_str(obj.get("WorkingDir"), "config.WorkingDir"),
            labels=Annotations(labels),
            exposed_ports=_keys(obj.get("ExposedPorts"), "config.ExposedPorts"),
            volumes=_keys(obj.get("Volumes"), "config.Volumes"),
            stop_signal=_str(obj.get("StopSignal"), "config.StopSignal"),
        )

    def env_dict(self) -> dict[str, str]:
        """``Env`` as a mapping (later entries win)."""
        out: dict[str, str] = {}
        for item in self.env:
            key, _, value = item.partition("=")
            out[key] = value
        return out


@dataclass(frozen=True, slots=True)
class History:
    """One step of the build history; ``empty_layer`` steps made no layer."""

    created: str = ""
    created_by: str = ""
    author: str = ""
    comment: str = ""
    empty_layer: bool = False

    @classmethod
    def from_dict(cls, obj: Any, where: str) -> History:
        if not isinstance(obj, dict):
            raise InvalidConfig(f"{where} must be an object")
        empty = obj.get("empty_layer", False)
        if not isinstance(empty, bool):
            raise InvalidConfig(f"{where}.empty_layer must be a boolean")
        return cls(
            _str(obj.get("created"), f"{where}.created"),
            _str(obj.get("created_by"), f"{where}.created_by"),
            _str(obj.get("author"), f"{where}.author"),
            _str(obj.get("comment"), f"{where}.comment"),
            empty,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in ("created", "created_by", "author", "comment"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.empty_layer:
            out["empty_layer"] = True
        return out


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """An image config blob, parsed from the exact bytes it keeps in ``raw``."""

    raw: bytes
    digest: Digest
    architecture: str
    os: str
    variant: str = ""
    os_version: str = ""
    created: str = ""
    author: str = ""
    config: ContainerConfig = field(default_factory=ContainerConfig)
    diff_ids: tuple[Digest, ...] = ()
    history: tuple[History, ...] = ()

    @property
    def platform(self) -> Platform:
        return Platform(self.os, self.architecture, self.variant or None, self.os_version or None)

    def json(self) -> dict[str, Any]:
        """A fresh, mutable copy of the parsed JSON, unknown fields included."""
        data: dict[str, Any] = json.loads(self.raw)
        return data

    def layer_history(self) -> list[tuple[History | None, int | None]]:
        """History steps paired with the layer index they made (None for empty steps).

        Layers without a history step (history shorter than diff_ids) get ``None`` history.
        """
        out: list[tuple[History | None, int | None]] = []
        layer = 0
        for step in self.history:
            if step.empty_layer:
                out.append((step, None))
            else:
                out.append((step, layer if layer < len(self.diff_ids) else None))
                layer += 1
        out.extend((None, i) for i in range(layer, len(self.diff_ids)))
        return out

    @classmethod
    def build(
        cls,
        *,
        architecture: str,
        os: str,
        diff_ids: Sequence[Digest],
        history: Sequence[History] = (),
        config: Mapping[str, Any] | None = None,
        variant: str = "",
        created: str = "",
        author: str = "",
    ) -> ImageConfig:
        """Serialise a new config (compact JSON) and parse it back."""
        obj: dict[str, Any] = {}
        if created:
            obj["created"] = created
        if author:
            obj["author"] = author
        obj["architecture"] = architecture
        if variant:
            obj["variant"] = variant
        obj["os"] = os
        obj["config"] = dict(config or {})
        obj["rootfs"] = {"type": "layers", "diff_ids": [str(d) for d in diff_ids]}
        if history:
            obj["history"] = [h.to_dict() for h in history]
        return parse_config(json.dumps(obj, separators=(",", ":")).encode())


def parse_config(raw: bytes) -> ImageConfig:
    """Parse an image config blob (OCI or Docker); raises InvalidConfig."""
    obj = parse_json(raw, what="config", error=InvalidConfig)
    if not isinstance(obj, dict):
        raise InvalidConfig("config is not a JSON object")
    rootfs = {} if obj.get("rootfs") is None else obj["rootfs"]
    if not isinstance(rootfs, dict):
        raise InvalidConfig("rootfs must be an object")
    raw_diff_ids = [] if rootfs.get("diff_ids") is None else rootfs["diff_ids"]
    if not isinstance(raw_diff_ids, list):
        raise InvalidConfig("rootfs.diff_ids must be a list")
    try:
        diff_ids = tuple(Digest.parse(d) for d in raw_diff_ids)
    except (ValueError, TypeError, AttributeError) as exc:
        raise InvalidConfig(f"rootfs.diff_ids: {exc}") from None
    history = [] if obj.get("history") is None else obj["history"]
    if not isinstance(history, list):
        raise InvalidConfig("history must be a list")
    return ImageConfig(
        raw=raw,
        digest=digest_of(raw),
        architecture=_str(obj.get("architecture"), "architecture"),
        os=_str(obj.get("os"), "os"),
        variant=_str(obj.get("variant"), "variant"),
        os_version=_str(obj.get("os.version"), "os.version"),
        created=_str(obj.get("created"), "created"),
        author=_str(obj.get("author"), "author"),
        config=ContainerConfig.from_dict(obj.get("config")),
        diff_ids=diff_ids,
        history=tuple(History.from_dict(h, f"history[{i}]") for i, h in enumerate(history)),
    )
