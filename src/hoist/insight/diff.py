"""What changed between two images: manifest, config fields, layers, and (optionally) files.

File changes compare the merged filesystems (whiteouts applied) by type, mode, owner, size,
link target and content sha256; modification times alone do not count as a change. Layers
both images share are read once::

    a, b = client.image("ocidir://oci:v1"), client.image("ocidir://oci:v2")
    result = image_diff(a, b, files=True)
    print(render_text(result))              # + added, - removed, ~ changed, = same
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hoist.insight._format import short_digest
from hoist.model.digest import Digest

if TYPE_CHECKING:
    from hoist.image import Image
    from hoist.layers.entries import Entry, LayerListing

__all__ = ["Change", "FileChange", "ImageDiff", "LayerChange", "image_diff", "render_text"]

_FILE_FIELDS = ("kind", "mode", "uid", "gid", "size", "linkname", "content", "devmajor", "devminor")


@dataclass(frozen=True)
class Change:
    """One difference in the manifest or config: ``added``, ``removed`` or ``changed``."""

    section: str
    key: str
    kind: str
    old: Any = None
    new: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "key": self.key,
            "change": self.kind,
            "old": self.old,
            "new": self.new,
        }


@dataclass(frozen=True)
class LayerChange:
    """A layer position: ``same``, ``changed``, ``added`` (only in B) or ``removed``."""

    index: int
    kind: str
    old: Digest | None
    new: Digest | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "change": self.kind,
            "old": str(self.old) if self.old else None,
            "new": str(self.new) if self.new else None,
        }


@dataclass(frozen=True)
class FileChange:
    """A path ``added``, ``removed`` or ``modified`` (with the fields that differ)."""

    path: str
    kind: str
    fields: tuple[str, ...] = ()
    old: Entry | None = None
    new: Entry | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": "/" + self.path, "change": self.kind}
        if self.fields:
            out["fields"] = list(self.fields)
        if self.old is not None:
            out["old"] = self.old.to_dict()
        if self.new is not None:
            out["new"] = self.new.to_dict()
        return out


@dataclass
class ImageDiff:
    """Everything that differs between image A and image B."""

    a: str
    b: str
    a_digest: Digest
    b_digest: Digest
    changes: list[Change] = field(default_factory=list)
    layers: list[LayerChange] = field(default_factory=list)
    files: list[FileChange] | None = None

    @property
    def identical(self) -> bool:
        return (
            not self.changes
            and all(x.kind == "same" for x in self.layers)
            and not (self.files or [])
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "a": self.a,
            "b": self.b,
            "a_digest": str(self.a_digest),
            "b_digest": str(self.b_digest),
            "identical": self.identical,
            "changes": [c.to_dict() for c in self.changes],
            "layers": [x.to_dict() for x in self.layers],
        }
        if self.files is not None:
            out["files"] = [f.to_dict() for f in self.files]
        return out


def _mapping(
    section: str, name: str, a: Mapping[str, Any], b: Mapping[str, Any]
) -> Iterator[Change]:
    for key in sorted(set(a) | set(b)):
        if key not in b:
            yield Change(section, f"{name} {key}", "removed", a[key], None)
        elif key not in a:
            yield Change(section, f"{name} {key}", "added", None, b[key])
        elif a[key] != b[key]:
            yield Change(section, f"{name} {key}", "changed", a[key], b[key])


def _value(section: str, key: str, a: Any, b: Any) -> Iterator[Change]:
    if a != b:
        kind = "added" if a in (None, "", []) else "removed" if b in (None, "", []) else "changed"
        yield Change(section, key, kind, a, b)


def _list(value: tuple[str, ...] | None) -> list[str] | None:
    return None if value is None else list(value)


def config_changes(a: Image, b: Image) -> list[Change]:
    ca, cb = a.config, b.config
    out: list[Change] = []
    for key, x, y in (
        ("platform", str(ca.platform), str(cb.platform)),
        ("created", ca.created, cb.created),
        ("author", ca.author, cb.author),
        ("user", ca.config.user, cb.config.user),
        ("workdir", ca.config.working_dir, cb.config.working_dir),
        ("entrypoint", _list(ca.config.entrypoint), _list(cb.config.entrypoint)),
        ("cmd", _list(ca.config.cmd), _list(cb.config.cmd)),
        ("stopsignal", ca.config.stop_signal, cb.config.stop_signal),
    ):
        out.extend(_value("config", key, x, y))
    out.extend(_mapping("config", "env", ca.config.env_dict(), cb.config.env_dict()))
    out.extend(_mapping("config", "label", ca.config.labels, cb.config.labels))
    for name, xs, ys in (
        ("port", ca.config.exposed_ports, cb.config.exposed_ports),
        ("volume", ca.config.volumes, cb.config.volumes),
    ):
        out.extend(Change("config", name, "removed", x, None) for x in sorted(set(xs) - set(ys)))
        out.extend(Change("config", name, "added", None, y) for y in sorted(set(ys) - set(xs)))
    ha = [h.created_by for h in ca.history]
    hb = [h.created_by for h in cb.history]
    if ha != hb:
        out.append(Change("config", "history", "changed", ha, hb))
    return out


def manifest_changes(a: Image, b: Image) -> list[Change]:
    ma, mb = a.manifest, b.manifest
    out: list[Change] = []
    if a.top.digest != b.top.digest and (a.index or b.index):
        out.extend(_value("manifest", "top digest", str(a.top.digest), str(b.top.digest)))
    out.extend(_value("manifest", "digest", str(ma.digest), str(mb.digest)))
    out.extend(_value("manifest", "mediaType", ma.media_type, mb.media_type))
    out.extend(_value("manifest", "config", str(ma.config.digest), str(mb.config.digest)))
    out.extend(_mapping("manifest", "annotation", ma.annotations, mb.annotations))
    return out


def layer_changes(a: Image, b: Image) -> list[LayerChange]:
    xs, ys = a.layers, b.layers
    out = []
    for i in range(max(len(xs), len(ys))):
        old = xs[i].digest if i < len(xs) else None
        new = ys[i].digest if i < len(ys) else None
        kind = (
            "added"
            if old is None
            else "removed"
            if new is None
            else "same"
            if old == new
            else "changed"
        )
        out.append(LayerChange(i, kind, old, new))
    return out


def file_changes(
    a: Image, b: Image, *, cache: dict[Digest, LayerListing] | None = None
) -> list[FileChange]:
    from hoist.files import merged_tree

    cache = {} if cache is None else cache
    old = {e.path: e for e in merged_tree(a, hash_files=True, cache=cache).walk()}
    new = {e.path: e for e in merged_tree(b, hash_files=True, cache=cache).walk()}
    out = []
    for path in sorted(set(old) | set(new)):
        x, y = old.get(path), new.get(path)
        if y is None:
            out.append(FileChange(path, "removed", old=x))
        elif x is None:
            out.append(FileChange(path, "added", new=y))
        else:
            fields = tuple(f for f in _FILE_FIELDS if getattr(x, f) != getattr(y, f))
            if fields:
                out.append(FileChange(path, "modified", fields, x, y))
    return out


def image_diff(a: Image, b: Image, *, files: bool = False) -> ImageDiff:
    """What changed from image ``a`` to image ``b`` (each resolved to one platform); with
    ``files`` the merged filesystems too (every layer is read, shared ones once)."""
    result = ImageDiff(str(a.location), str(b.location), a.manifest.digest, b.manifest.digest)
    result.changes = manifest_changes(a, b) + config_changes(a, b)
    result.layers = layer_changes(a, b)
    if files:
        result.files = file_changes(a, b)
    return result


def _show(value: Any, full: bool = False) -> str:
    if isinstance(value, str):
        if not full and value.startswith("sha256:") and len(value) == 71:
            return value[:19]
        return value
    return json.dumps(value)


def render_text(diff: ImageDiff, *, full: bool = False) -> str:
    """``--- A`` / ``+++ B`` then ``+`` added, ``-`` removed, ``~`` changed, ``=`` same."""
    marks = {"added": "+", "removed": "-", "changed": "~", "modified": "~", "same": "="}
    lines = [
        f"--- {diff.a}  {short_digest(diff.a_digest, full)}",
        f"+++ {diff.b}  {short_digest(diff.b_digest, full)}",
    ]
    for section in ("manifest", "config"):
        changes = [c for c in diff.changes if c.section == section]
        if changes:
            lines.append(f"{section}:")
        for c in changes:
            if c.kind == "changed":
                text = f"{c.key}: {_show(c.old, full)} -> {_show(c.new, full)}"
            else:
                text = f"{c.key}: {_show(c.new if c.kind == 'added' else c.old, full)}"
            if c.key == "history":
                text = f"history: {len(c.old)} steps -> {len(c.new)} steps"
            lines.append(f"  {marks[c.kind]} {text}")
    lines.append("layers:")
    for x in diff.layers:
        if x.kind == "changed":
            text = f"{short_digest(x.old, full)} -> {short_digest(x.new, full)}"
        else:
            text = short_digest(x.new or x.old, full)
        lines.append(f"  {marks[x.kind]} {x.index}  {text}")
    if diff.files is not None:
        lines.append(f"files: {len(diff.files)} changed")
        for f in diff.files:
            extra = f"  ({', '.join(f.fields)})" if f.fields else ""
            lines.append(f"  {marks[f.kind]} /{f.path}{extra}")
    if diff.identical:
        lines.append("identical")
    return "\n".join(lines)
