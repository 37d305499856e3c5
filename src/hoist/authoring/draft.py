"""An image being assembled: its config, history and layers, kept in step.

A :class:`Draft` is what both ways of authoring an image work on: a Dockerfile stage (see
:mod:`hoist.authoring.stage`) and ``image mod`` (see :mod:`hoist.authoring.mod`). Its config
is changed through :mod:`hoist.authoring.edits`; every change appends a history entry; a layer
added or removed keeps ``rootfs.diff_ids`` and the history in step.

A draft starts in one of three ways, which also decide how its config is written:

- :meth:`Draft.scratch`: an empty image (BuildKit's ``scratch``: ``PATH`` set, ``WorkingDir /``);
- :meth:`Draft.on_base`: a new image on a base image's config and layers (a ``FROM``);
- :meth:`Draft.revise`: an existing image changed in place (``image mod``).

A new image's config is written in BuildKit's layout (its keys in BuildKit's order, maps
sorted, nulls left out), so a build gives the digests BuildKit would. A revised image keeps
every field of the config it came from, in its order; only ``config``, ``rootfs``,
``history`` and (when asked) ``created`` are replaced.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from hoist.errors import InvalidConfig
from hoist.model.digest import Digest
from hoist.model.jsonvalue import parse_json
from hoist.model.platform import Platform

if TYPE_CHECKING:
    from hoist.image import Image
    from hoist.layers.tarball import NewLayer
    from hoist.location import Location
    from hoist.model.descriptor import Descriptor
    from hoist.model.manifest import ImageManifest
    from hoist.store.base import BlobReader

__all__ = ["DEFAULT_PATH", "Draft", "DraftLayer", "rfc3339"]

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
"""The ``PATH`` BuildKit gives images built ``FROM scratch`` (Linux)."""

_SORTED_MAPS = ("ExposedPorts", "Volumes", "Labels")
_PLATFORM_KEYS = ("os.version", "os.features")


def rfc3339(epoch: int) -> str:
    """Seconds since 1970 as ``1970-01-01T00:00:00Z``."""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class DraftLayer:
    """A layer of a draft: one made here (``new``, in a temporary file) or one of an existing
    image (read from ``location`` only if its files or bytes are needed)."""

    descriptor: Descriptor
    diff_id: Digest
    new: NewLayer | None = None
    location: Location | None = None

    def open(self) -> IO[bytes] | BlobReader:
        """The layer's blob, as stored (compressed)."""
        if self.new is not None:
            return self.new.open()
        if self.location is None:
            raise ValueError(f"layer {self.descriptor.digest} has neither a file nor a location")
        return self.location.blob_get(self.descriptor.digest, self.descriptor.size)


@dataclass
class Draft:
    """One platform image being assembled."""

    document: dict[str, Any]
    """The config's own fields: ``architecture``, ``os``, ``author``... (for a revised image,
    every field of its config, in their order)."""
    config: dict[str, Any]
    """The run-time config (the ``config`` object): Env, Cmd, Labels, ..."""
    history: list[dict[str, Any]] = field(default_factory=list)
    layers: list[DraftLayer] = field(default_factory=list)
    manifest: ImageManifest | None = None
    """The manifest of the image revised; None for a new image."""
    annotations: dict[str, str] = field(default_factory=dict)
    """The manifest's annotations: a revised image's own, a new image's base (see
    :mod:`hoist.model.base_image`)."""

    # -- beginnings ------------------------------------------------------------------------

    @classmethod
    def scratch(cls, platform: Platform) -> Draft:
        """An empty image, as BuildKit starts ``FROM scratch``."""
        env = [f"PATH={DEFAULT_PATH}"] if platform.os != "windows" else []
        document: dict[str, Any] = {"architecture": platform.architecture, "os": platform.os}
        if platform.variant:
            document["variant"] = platform.variant
        return cls(document, {"Env": env, "WorkingDir": "/"})

    @classmethod
    def on_base(cls, image: Image, platform: Platform, name: str) -> Draft:
        """A new image for ``platform`` on ``image``: its config and history, its layers by
        reference (``name`` is the image's name, for messages)."""
        manifest, config = image.manifest, image.config
        if len(manifest.layers) != len(config.diff_ids):
            raise InvalidConfig(
                f"{name}: {len(manifest.layers)} layers but {len(config.diff_ids)} diff_ids"
            )
        raw = config.json()
        document: dict[str, Any] = {}
        author = str(raw.get("author") or "")
        if author:
            document["author"] = author
        document["architecture"] = platform.architecture
        variant = platform.variant or (
            config.variant if config.architecture == platform.architecture else ""
        )
        if variant:
            document["variant"] = variant
        document["os"] = platform.os
        for key in _PLATFORM_KEYS:
            if raw.get(key):
                document[key] = raw[key]
        layers = [
            DraftLayer(desc, diff_id, location=image.location)
            for desc, diff_id in zip(manifest.layers, config.diff_ids, strict=True)
        ]
        return cls(document, dict(raw.get("config") or {}), list(raw.get("history") or []), layers)

    @classmethod
    def revise(cls, manifest: ImageManifest, config: bytes, location: Location) -> Draft:
        """The image ``manifest`` (its config blob ``config``), to be changed; its layers are
        read from ``location`` only when a change needs their bytes."""
        document = parse_json(config, what=f"config {manifest.config.digest}", error=InvalidConfig)
        if not isinstance(document, dict):
            raise InvalidConfig(f"{manifest.config.digest}: the config is not a JSON object")
        run = document.get("config") or {}
        rootfs = document.get("rootfs") or {}
        history = document.get("history") or []
        if not isinstance(run, dict) or not isinstance(rootfs, dict):
            raise InvalidConfig(f"{manifest.config.digest}: config and rootfs must be objects")
        raw_ids = rootfs.get("diff_ids") or []
        if not isinstance(raw_ids, list) or not isinstance(history, list):
            raise InvalidConfig(f"{manifest.config.digest}: diff_ids and history must be lists")
        if not all(isinstance(h, dict) for h in history):
            raise InvalidConfig(f"{manifest.config.digest}: a history entry is not an object")
        document["config"] = run  # its place among the fields, whatever happens to it
        diff_ids = [Digest.parse(str(d)) for d in raw_ids]
        if len(manifest.layers) != len(diff_ids):
            raise InvalidConfig(
                f"{location}: {len(manifest.layers)} layers but {len(diff_ids)} diff_ids"
            )
        layers = [
            DraftLayer(desc, diff_id, location=location)
            for desc, diff_id in zip(manifest.layers, diff_ids, strict=True)
        ]
        return cls(document, run, list(history), layers, manifest, dict(manifest.annotations))

    def clone(self) -> Draft:
        """A copy to change apart (layers are shared: they are immutable)."""
        return Draft(
            copy.deepcopy(self.document),
            copy.deepcopy(self.config),
            copy.deepcopy(self.history),
            list(self.layers),
            self.manifest,
            dict(self.annotations),
        )

    # -- history and layers ----------------------------------------------------------------

    def add_history(
        self, created_by: str, created: str, *, layer: bool = False, comment: str | None = None
    ) -> None:
        """Record a step; ``layer`` when it made the layer just added."""
        entry: dict[str, Any] = {"created": created, "created_by": created_by}
        if comment is not None:
            entry["comment"] = comment
        if not layer:
            entry["empty_layer"] = True
        self.history.append(entry)

    def add_layer(self, layer: DraftLayer) -> None:
        self.layers.append(layer)

    def layer_steps(self) -> list[int]:
        """For each layer, the index of the history step that made it (-1 if none)."""
        steps, n = [], 0
        for i, h in enumerate(self.history):
            if not h.get("empty_layer") and n < len(self.layers):
                steps.append(i)
                n += 1
        return steps + [-1] * (len(self.layers) - len(steps))

    def remove_layers(self, indexes: Iterable[int]) -> None:
        """Drop the layers at ``indexes`` (0-based, in range) with the history steps that made
        them."""
        wanted = set(indexes)
        steps = self.layer_steps()
        drop_steps = {steps[i] for i in wanted if steps[i] >= 0}
        self.layers = [x for i, x in enumerate(self.layers) if i not in wanted]
        self.history = [h for i, h in enumerate(self.history) if i not in drop_steps]

    def new_layers(self) -> list[NewLayer]:
        """The layers made here that the draft holds, once each."""
        found = {x.descriptor.digest: x.new for x in self.layers if x.new is not None}
        return [x for x in found.values() if x is not None]

    # -- the result ------------------------------------------------------------------------

    @property
    def platform(self) -> Platform:
        """The platform the config declares (what an index lists for it)."""
        return Platform(
            str(self.document.get("os") or ""),
            str(self.document.get("architecture") or ""),
            self.document.get("variant") or None,
            self.document.get("os.version") or None,
        )

    def config_blob(self, created: str | None = None) -> bytes:
        """The image config as compact JSON; ``created`` sets its time (None: a revised
        image keeps its own)."""
        diff_ids = [str(x.diff_id) for x in self.layers]
        if self.manifest is not None:
            doc = dict(self.document)
            doc["config"] = self.config
            if created is not None:
                doc["created"] = created
            doc["rootfs"] = {"type": "layers", "diff_ids": diff_ids}
            if self.history:
                doc["history"] = self.history
            return json.dumps(doc, separators=(",", ":")).encode()
        conf = dict(self.config)
        for key in _SORTED_MAPS:
            if isinstance(conf.get(key), dict):
                conf[key] = dict(sorted(conf[key].items()))
        for key, value in list(conf.items()):
            if value is None:
                del conf[key]
        doc = self.document
        obj: dict[str, Any] = {}
        if created is not None:
            obj["created"] = created
        if doc.get("author"):
            obj["author"] = doc["author"]
        obj["architecture"] = doc.get("architecture")
        if doc.get("variant"):
            obj["variant"] = doc["variant"]
        obj["os"] = doc.get("os")
        for key in _PLATFORM_KEYS:
            if key in doc:
                obj[key] = doc[key]
        obj["config"] = conf
        obj["rootfs"] = {"type": "layers", "diff_ids": diff_ids}
        obj["history"] = self.history
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
