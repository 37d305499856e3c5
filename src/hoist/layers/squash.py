"""Several layers as one tar: the filesystem they make, or one layer that stands for them.

A :class:`SquashPlan` says what the tar holds, from the layers' listings (metadata only):

- :func:`merged_plan`: the filesystem all the layers make, whiteouts and opaque directories
  applied and none left (``image export --rootfs``, ``image flatten`` of every layer). Paths
  resolve through symlinks inside the image, as :class:`~hoist.layers.merge.FileTree` does.
- :func:`diff_plan`: one layer that, applied over whatever lies below the listed layers, gives
  what applying them in turn gives (``image flatten --keep-base``/``--last``). What the
  layers delete below them stays a whiteout; a directory deleted or replaced and then made
  again becomes an opaque directory. Paths are kept as the layers name them: the layers
  below are never read.

:func:`write_plan` then streams the tar with bounded memory: directories, symlinks, devices
and deletion markers first (in path order), then each file's bytes, read layer by layer from
the bottom up, each layer once and to its end (so its digest is verified), its members
copied straight through. Files that share bytes in the result (hard links, in the image or
made by a later layer linking to a file) are written once and linked to.
"""

from __future__ import annotations

import tarfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import IO, Any

from hoist.errors import InvalidLayer
from hoist.layers.entries import Entry, LayerListing, walk_layer
from hoist.layers.merge import FileTree
from hoist.layers.paths import OPAQUE, WHITEOUT_PREFIX, display, join, split
from hoist.layers.stream import LayerStream
from hoist.model.digest import Digest

__all__ = ["OpenLayer", "SquashPlan", "SquashStats", "diff_plan", "merged_plan", "write_plan"]

OpenLayer = Callable[[int], AbstractContextManager[LayerStream]]
"""``open_layer(index)``: layer ``index`` decompressing as it streams (a context manager)."""

_DATA_KINDS = ("file", "hardlink")


@dataclass(frozen=True)
class SquashPlan:
    """The entries of one tar standing for several layers, in path order (parents first);
    deletions are entries of kind ``whiteout`` and ``opaque``. A file's ``data`` says which
    layer and tar member hold its bytes."""

    entries: tuple[Entry, ...]

    @property
    def layers(self) -> tuple[int, ...]:
        """The layers whose bytes the tar needs, bottom first."""
        return tuple(sorted({e.data[0] for e in self.entries if e.data is not None}))

    @property
    def deletions(self) -> int:
        return sum(1 for e in self.entries if e.is_deletion)


def merged_plan(listings: Iterable[LayerListing]) -> SquashPlan:
    """The filesystem the layers make together (bottom first), nothing deleted left."""
    return SquashPlan(tuple(FileTree.from_listings(listings).walk()))


# -- one layer standing for several ------------------------------------------------------


class _Node:
    __slots__ = ("children", "entry", "opaque", "whiteout")

    def __init__(self) -> None:
        self.entry: Entry | None = None  # None: a directory the listed layers only pass through
        self.children: dict[str, _Node] = {}
        self.opaque = False  # what lies below in this directory is hidden
        self.whiteout = False  # deleted, with whatever lies below


class _Diff:
    """The change several layers make to what lies below them, as one layer would."""

    def __init__(self) -> None:
        self.root = _Node()

    def _parent(self, path: str, *, label: str) -> _Node | None:
        """The directory holding ``path``, made where missing; None when a listed layer made
        an ancestor something a path cannot pass through and ``label`` is a deletion."""
        node = self.root
        parent, _ = split(path)
        for comp in [p for p in parent.split("/") if p]:
            child = node.children.get(comp)
            if child is None:
                child = node.children[comp] = _Node()
            elif child.whiteout:
                if label == "whiteout":
                    return None  # already deleted, with everything under it
                # something is made under a deleted path: a new directory hiding the old
                child.whiteout, child.opaque = False, True
            elif child.entry is not None and child.entry.kind not in ("dir", "symlink"):
                if label == "whiteout":
                    return None
                raise InvalidLayer(f"{display(path)}: {display(comp)} is not a directory")
            node = child
        return node

    def apply(self, listing: LayerListing) -> None:
        entries = listing.entries
        for entry in entries:
            if entry.kind == "opaque":
                parent = self._parent(entry.path, label="opaque")
                assert parent is not None
                _, name = split(entry.path)
                node = parent.children.setdefault(name, _Node())
                if node.entry is not None and node.entry.kind != "dir":
                    raise InvalidLayer(f"{entry.display_path} is not a directory")
                node.children, node.opaque, node.whiteout = {}, True, False
        for entry in entries:
            if entry.kind == "whiteout":
                parent = self._parent(entry.path, label="whiteout")
                if parent is None:
                    continue
                _, name = split(entry.path)
                node = parent.children.setdefault(name, _Node())
                node.children, node.entry = {}, None
                node.opaque, node.whiteout = False, True
        for entry in entries:
            if not entry.is_deletion:
                self._add(entry)

    def _add(self, entry: Entry) -> None:
        parent = self._parent(entry.path, label=entry.kind)
        assert parent is not None
        _, name = split(entry.path)
        node = parent.children.setdefault(name, _Node())
        if entry.kind == "dir":
            replaced = node.entry is not None and node.entry.kind != "dir"
            if node.whiteout or replaced:
                # the path was deleted or replaced: what lies below must stay hidden
                node.children, node.whiteout, node.opaque = {}, False, True
            node.entry = entry
            return
        if entry.kind == "hardlink":
            entry = self._link(entry)
        node.children, node.entry = {}, entry
        node.opaque = node.whiteout = False

    def _lookup(self, path: str) -> _Node | None:
        node = self.root
        for comp in [p for p in path.split("/") if p]:
            child = node.children.get(comp)
            if child is None:
                return None
            node = child
        return node

    def _link(self, entry: Entry) -> Entry:
        target = self._lookup(entry.linkname)
        if target is None or (target.entry is None and not target.whiteout):
            return entry  # a file below the listed layers: linked to as it is
        if target.whiteout:
            raise InvalidLayer(
                f"{entry.display_path}: hard link target {display(entry.linkname)} was deleted"
            )
        assert target.entry is not None
        if target.entry.kind == "dir":
            raise InvalidLayer(
                f"{entry.display_path}: hard link target {display(entry.linkname)} is a directory"
            )
        if target.entry.kind in _DATA_KINDS and target.entry.data is not None:
            return entry.replace(data=target.entry.data, content=target.entry.content)
        return entry

    def walk(self) -> Iterator[Entry]:
        stack: list[tuple[str, _Node]] = [("", self.root)]
        while stack:
            path, node = stack.pop()
            if path:
                if node.whiteout:
                    yield Entry(path, "whiteout")
                    continue
                if node.entry is not None:
                    yield node.entry if node.entry.path == path else node.entry.replace(path=path)
                if node.opaque:
                    yield Entry(path, "opaque")
            for name in sorted(node.children, reverse=True):
                stack.append((join(path, name), node.children[name]))


def diff_plan(listings: Iterable[LayerListing]) -> SquashPlan:
    """One layer for ``listings`` (bottom first) over whatever lies below them: their
    entries, what they delete below as whiteouts, directories made anew as opaque ones."""
    diff = _Diff()
    for listing in listings:
        diff.apply(listing)
    return SquashPlan(tuple(diff.walk()))


# -- writing ---------------------------------------------------------------------------------


@dataclass
class SquashStats:
    """What :func:`write_plan` wrote."""

    entries: int = 0
    """Tar members written (deletion markers included)."""
    files: int = 0
    file_bytes: int = 0
    hardlinks: int = 0
    directories: int = 0
    symlinks: int = 0
    deletions: int = 0
    other: int = 0
    """Devices and FIFOs."""
    diff_ids: dict[int, Digest] = field(default_factory=dict)
    """The diff_id computed for each layer read, by its index."""

    def count(self, kind: str) -> None:
        self.entries += 1
        if kind == "file":
            self.files += 1
        elif kind == "hardlink":
            self.hardlinks += 1
        elif kind == "dir":
            self.directories += 1
        elif kind == "symlink":
            self.symlinks += 1
        elif kind in ("whiteout", "opaque"):
            self.deletions += 1
        else:
            self.other += 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "entries": self.entries,
            "files": self.files,
            "file_bytes": self.file_bytes,
            "hardlinks": self.hardlinks,
            "directories": self.directories,
            "symlinks": self.symlinks,
            "deletions": self.deletions,
            "other": self.other,
        }


_TAR_TYPES = {
    "file": tarfile.REGTYPE,
    "hardlink": tarfile.LNKTYPE,
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "char": tarfile.CHRTYPE,
    "block": tarfile.BLKTYPE,
    "fifo": tarfile.FIFOTYPE,
}


def _tarinfo(entry: Entry, *, kind: str | None = None, size: int = 0, link: str = "") -> Any:
    """The tar header of ``entry`` (written as ``kind`` when given)."""
    kind = kind or entry.kind
    if kind == "whiteout":
        parent, name = split(entry.path)
        info = tarfile.TarInfo(join(parent, WHITEOUT_PREFIX + name))
        info.mtime = int(entry.mtime)
        return info
    if kind == "opaque":
        info = tarfile.TarInfo(join(entry.path, OPAQUE))
        info.mtime = int(entry.mtime)
        return info
    info = tarfile.TarInfo(entry.path)
    info.type = _TAR_TYPES[kind]
    info.mode = entry.mode & 0o7777
    info.uid, info.gid = entry.uid, entry.gid
    info.uname, info.gname = entry.uname, entry.gname
    info.mtime = entry.mtime
    info.size = size if kind == "file" else 0
    if kind == "symlink":
        info.linkname = entry.linkname
    elif kind == "hardlink":
        info.linkname = link or entry.linkname
    elif kind in ("char", "block"):
        info.devmajor, info.devminor = entry.devmajor, entry.devminor
    if entry.xattrs:
        info.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in entry.xattrs.items()}
    return info


def _inode(entry: Entry, last: Entry) -> Entry:
    """``entry`` with the owner, mode, time and attributes of ``last`` (same inode)."""
    if entry is last:
        return entry
    return entry.replace(
        mode=last.mode,
        uid=last.uid,
        gid=last.gid,
        uname=last.uname,
        gname=last.gname,
        mtime=last.mtime,
        xattrs=last.xattrs,
    )


def write_plan(plan: SquashPlan, open_layer: OpenLayer, out: IO[bytes]) -> SquashStats:
    """Write the tar ``plan`` describes to ``out`` (a stream: it is never seeked), reading
    the bytes of files from ``open_layer(index)``, bottom layer first."""
    stats = SquashStats()
    groups: dict[tuple[int, int], list[Entry]] = {}
    early: list[Entry] = []
    for entry in plan.entries:
        if entry.kind in _DATA_KINDS and entry.data is not None:
            groups.setdefault(entry.data, []).append(entry)
        else:
            early.append(entry)
    wanted: dict[int, dict[int, list[Entry]]] = {}
    for (layer, ordinal), group in groups.items():
        group.sort(key=lambda e: (e.kind != "file", e.path))  # a regular file holds the bytes
        wanted.setdefault(layer, {})[ordinal] = group
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for entry in early:
            tar.addfile(_tarinfo(entry))
            stats.count(entry.kind)
        for layer in sorted(wanted):
            members = wanted[layer]
            with open_layer(layer) as stream:
                for member in walk_layer(stream, layer=layer):
                    if member.entry.ordinal not in members:
                        continue
                    group = members.pop(member.entry.ordinal)
                    # the names share one inode: whichever header was applied last (in
                    # layer and tar order) set its owner, mode and time, for every name
                    last = max(group, key=lambda e: (e.layer, e.ordinal))
                    first, *links = (_inode(e, last) for e in group)
                    size = member.info.size
                    with member.open() as content:
                        tar.addfile(_tarinfo(first, kind="file", size=size), content)
                    stats.count("file")
                    stats.file_bytes += size
                    for entry in links:
                        tar.addfile(_tarinfo(entry, kind="hardlink", link=first.path))
                        stats.count("hardlink")
                stats.diff_ids[layer] = stream.finish()
            if members:
                missing = ", ".join(str(n) for n in sorted(members)[:5])
                raise InvalidLayer(
                    f"layer {layer}: tar member(s) {missing} are missing (did the layer change?)"
                )
    return stats
