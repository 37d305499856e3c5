"""What a build stage has made so far: config, history, layers, and the variables in scope.

A stage starts from ``scratch`` (BuildKit's empty image: ``PATH`` set, ``WorkingDir /``),
from a base image's config (its layers are referenced, never read), or from a copy of an
earlier stage. Every instruction then changes the config and appends a history entry;
COPY and ADD also append a layer.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hoist.errors import InvalidConfig
from hoist.model.platform import Platform

if TYPE_CHECKING:
    from hoist.authoring.commit import Source
    from hoist.layers.tarball import NewLayer
    from hoist.model.config import ImageConfig
    from hoist.model.descriptor import Descriptor
    from hoist.model.digest import Digest, Readable
    from hoist.model.manifest import ImageManifest
    from hoist.model.reference import ImageRef
    from hoist.store.base import Store

__all__ = ["DEFAULT_PATH", "HISTORY_COMMENT", "LayerRef", "StageState", "rfc3339"]

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
"""The ``PATH`` BuildKit gives images built ``FROM scratch`` (Linux)."""
HISTORY_COMMENT = "buildkit.dockerfile.v0"
"""The ``comment`` BuildKit puts on each history entry of a Dockerfile build."""
_SORTED_MAPS = ("ExposedPorts", "Volumes", "Labels")


def rfc3339(epoch: int) -> str:
    """Seconds since 1970 as ``1970-01-01T00:00:00Z``."""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class LayerRef:
    """A layer of the image being built: a base image's (read from its store only if a
    ``COPY --from`` needs its files) or one built here (in a temporary file)."""

    descriptor: Descriptor
    diff_id: Digest
    new: NewLayer | None = None
    store: Store | None = None
    ref: ImageRef | None = None

    def open(self) -> Readable:
        if self.new is not None:
            return self.new.open()
        assert self.store is not None and self.ref is not None
        return self.store.blob_get(self.ref, self.descriptor.digest, self.descriptor.size)


@dataclass
class StageState:
    """A stage being built, for one platform."""

    platform: Platform
    config: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    layers: list[LayerRef] = field(default_factory=list)
    author: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    vars: dict[str, str] = field(default_factory=dict)
    """What ``$VAR`` expands to: the config's Env, then ENV and ARG values in order."""
    cmd_set: bool = False
    dirs: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    """Directories this build wrote into a layer: path -> (mode, uid, gid)."""
    dir_paths: set[str] = field(default_factory=set)
    """Paths known to be directories (``dirs`` and WORKDIRs), for COPY destinations."""
    base_unread: bool = False
    """The stage has base-image layers whose files hoist has not read."""
    sources: list[Source] = field(default_factory=list)
    base_name: str = "scratch"
    base_digest: str = ""
    """The base image's manifest digest (for this platform)."""
    onbuild: list[str] = field(default_factory=list)
    """The base image's ONBUILD triggers, to run before the stage's own instructions."""

    @classmethod
    def scratch(cls, platform: Platform) -> StageState:
        env = [f"PATH={DEFAULT_PATH}"] if platform.os != "windows" else []
        state = cls(platform, {"Env": env, "WorkingDir": "/"})
        state.vars = dict(e.partition("=")[::2] for e in env)
        if platform.variant:
            state.extra["variant"] = platform.variant
        return state

    @classmethod
    def from_image(
        cls,
        platform: Platform,
        manifest: ImageManifest,
        config: ImageConfig,
        store: Store,
        ref: ImageRef,
        name: str,
    ) -> StageState:
        """A stage on a base image: its config and history, its layers by reference."""
        raw = config.json()
        if len(manifest.layers) != len(config.diff_ids):
            raise InvalidConfig(
                f"{name}: {len(manifest.layers)} layers but {len(config.diff_ids)} diff_ids"
            )
        conf = dict(raw.get("config") or {})
        onbuild = list(conf.pop("OnBuild", None) or [])
        state = cls(platform, conf, list(raw.get("history") or []))
        state.layers = [
            LayerRef(desc, diff_id, store=store, ref=ref)
            for desc, diff_id in zip(manifest.layers, config.diff_ids, strict=True)
        ]
        state.author = str(raw.get("author") or "")
        variant = platform.variant or (
            config.variant if config.architecture == platform.architecture else ""
        )
        if variant:
            state.extra["variant"] = variant
        for key in ("os.version", "os.features"):
            if raw.get(key):
                state.extra[key] = raw[key]
        state.vars = dict(e.partition("=")[::2] for e in conf.get("Env") or [])
        state.base_unread = bool(state.layers)
        state.sources = [(store, ref)]
        state.base_name = name
        state.base_digest = str(manifest.digest)
        state.onbuild = onbuild
        return state

    def clone(self) -> StageState:
        """A copy to build another stage on (layers and sources are shared, not copied)."""
        other = copy.copy(self)
        other.config = copy.deepcopy(self.config)
        other.history = copy.deepcopy(self.history)
        other.layers = list(self.layers)
        other.extra = dict(self.extra)
        other.vars = dict(self.vars)
        other.dirs = dict(self.dirs)
        other.dir_paths = set(self.dir_paths)
        other.sources = list(self.sources)
        other.cmd_set = False
        other.onbuild = []
        return other

    # -- changes ---------------------------------------------------------------------------

    def set_env(self, key: str, value: str) -> None:
        env = list(self.config.get("Env") or [])
        item = f"{key}={value}"
        for i, existing in enumerate(env):
            if existing.partition("=")[0] == key:
                env[i] = item
                break
        else:
            env.append(item)
        self.config["Env"] = env
        self.vars[key] = value

    def add_history(self, created_by: str, created: str, *, layer: bool = False) -> None:
        entry: dict[str, Any] = {"created": created, "created_by": created_by}
        entry["comment"] = HISTORY_COMMENT
        if not layer:
            entry["empty_layer"] = True
        self.history.append(entry)

    def add_layer(self, layer: LayerRef) -> None:
        self.layers.append(layer)

    # -- the result ------------------------------------------------------------------------

    def config_blob(self, created: str) -> bytes:
        """The image config as compact JSON (maps sorted as Go writes them)."""
        conf = dict(self.config)
        for key in _SORTED_MAPS:
            if isinstance(conf.get(key), dict):
                conf[key] = dict(sorted(conf[key].items()))
        for key, value in list(conf.items()):
            if value is None:
                del conf[key]
        obj: dict[str, Any] = {"created": created}
        if self.author:
            obj["author"] = self.author
        obj["architecture"] = self.platform.architecture
        if self.extra.get("variant"):
            obj["variant"] = self.extra["variant"]
        obj["os"] = self.platform.os
        for key in ("os.version", "os.features"):
            if key in self.extra:
                obj[key] = self.extra[key]
        obj["config"] = conf
        obj["rootfs"] = {"type": "layers", "diff_ids": [str(x.diff_id) for x in self.layers]}
        obj["history"] = self.history
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()

    @property
    def image_platform(self) -> Platform:
        """The platform the config declares (what an index lists for it)."""
        return Platform(
            self.platform.os,
            self.platform.architecture,
            self.extra.get("variant") or None,
            self.extra.get("os.version") or None,
        )
