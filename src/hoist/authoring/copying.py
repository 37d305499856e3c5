"""COPY and ADD: which files go where, as a plan, then one layer written from the plan.

BuildKit's rules: sources are relative to the context (or the ``--from`` stage's root), may
use wildcards, and a symlink named as a source is followed; a directory's *contents* are
copied; a destination ending in ``/`` (or ``.``) is a directory, a relative one is under
WORKDIR; several sources need a directory destination. ADD unpacks local tar archives
(plain, gzip, bzip2, xz, zstd) into the destination directory; URLs need the network.

hoist never reads the base image's files, so it cannot see that ``/usr/local/bin`` exists
there: a destination without ``/`` is a directory only when this build made it (COPY or
WORKDIR) or it is a standard one (``/usr/local/bin``, ``/etc``, ...); otherwise it is the
file's new path. Directories above the destination are written to the layer only when hoist
knows them (made by this build, or the stage has no base layers): existing ones in a base
image keep their owner and mode, missing ones are made by the runtime when it unpacks.
"""

from __future__ import annotations

import bz2
import lzma
import posixpath
import re
import tarfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from hoist.authoring.context import BuildContext, ContextEntry, has_wildcards
from hoist.authoring.stage import StageState
from hoist.errors import InvalidInput
from hoist.layers.entries import open_member
from hoist.layers.tarball import LayerBuilder, NewLayer

__all__ = [
    "ContextFS",
    "CopyRequest",
    "Node",
    "PlanEntry",
    "is_archive",
    "plan_copy",
    "write_layer",
]

STANDARD_DIRS = frozenset(
    "bin sbin etc opt srv tmp var home root lib usr usr/bin usr/sbin usr/lib usr/share "  # noqa: SIM905
    "usr/src usr/local usr/local/bin usr/local/sbin usr/local/lib usr/local/share var/lib "
    "var/log var/www".split()
)
"""Destinations taken as directories even without a trailing ``/`` (see the module doc)."""

_URL = re.compile(r"^(https?|git|ssh)://|^git@")
_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")


@dataclass(frozen=True, slots=True)
class Node:
    """A file, directory or symlink in a source: context or ``--from`` filesystem.

    ``rel`` names it (its base name is used at the destination), ``real`` is where it is
    after symlinks; content is the host file ``path`` or the layer member ``data``.
    """

    rel: str
    real: str
    kind: str
    mode: int
    uid: int = 0
    gid: int = 0
    linkname: str = ""
    path: str = ""
    data: tuple[int, int] | None = None


class SourceFS(Protocol):
    def lookup(self, rel: str) -> Node | None: ...
    def glob(self, pattern: str) -> list[Node]: ...
    def walk(self, top: Node) -> Iterator[Node]: ...


@dataclass(frozen=True, slots=True)
class PlanEntry:
    """One thing the layer will hold; ``archive`` entries unpack a tar at ``dest``."""

    kind: str
    dest: str
    source: str = ""
    mode: int = 0o755
    uid: int = 0
    gid: int = 0
    keep_owner: bool = False
    data: tuple[int, int] | None = None


@dataclass(frozen=True)
class CopyRequest:
    """A COPY or ADD with its words expanded."""

    sources: tuple[str, ...]
    dest: str
    add: bool = False
    chown: tuple[int, int] | None = None
    chmod: int | None = None


def is_archive(path: str) -> bool:
    """Whether a local file is a tar archive ADD unpacks (plain or compressed)."""
    try:
        with _open_tar(path) as tar:
            return tar.next() is not None
    except (tarfile.TarError, OSError, EOFError, lzma.LZMAError, ValueError):
        return False


@contextmanager
def _open_tar(path: str) -> Iterator[tarfile.TarFile]:
    with open(path, "rb") as f:
        head = f.read(6)
    stream: Any
    if head.startswith(_MAGIC[0]):
        import gzip

        stream = gzip.open(path, "rb")  # noqa: SIM115 - closed below
    elif head.startswith(_MAGIC[1]):
        stream = bz2.open(path, "rb")  # noqa: SIM115
    elif head.startswith(_MAGIC[2]):
        stream = lzma.open(path, "rb")  # noqa: SIM115
    elif head.startswith(_MAGIC[3]):
        import zstandard

        zstd: Any = zstandard
        stream = zstd.open(path, "rb")
    else:
        stream = open(path, "rb")  # noqa: SIM115 - closed below
    with stream, tarfile.open(fileobj=stream, mode="r|") as tar:
        yield tar


def _member_name(name: str) -> str:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InvalidInput(f"archive member {name!r} climbs out with '..'")
    return "/".join(parts)


class ContextFS:
    """The build context as a source of COPY and ADD."""

    def __init__(self, context: BuildContext) -> None:
        self.context = context

    @staticmethod
    def _node(entry: ContextEntry) -> Node:
        return Node(
            entry.rel, entry.rel, entry.kind, entry.mode, 0, 0, entry.linkname, str(entry.path)
        )

    def lookup(self, rel: str) -> Node | None:
        entry = self.context.lookup(rel)
        return None if entry is None else self._node(entry)

    def glob(self, pattern: str) -> list[Node]:
        return [self._node(e) for e in self.context.glob(pattern)]

    def walk(self, top: Node) -> Iterator[Node]:
        start = ContextEntry(top.rel, Path(top.path), "dir", top.mode)
        return (self._node(e) for e in self.context.walk(start))


def _dest(dest: str, workdir: str) -> tuple[str, bool]:
    """The destination as a layer path, and whether it names a directory."""
    if dest in ("", "."):
        dest = "./"
    is_dir = dest.endswith(("/", "/.")) or dest in ("/", "./")
    full = posixpath.normpath(posixpath.join("/", workdir or "/", dest)).lstrip("/")
    return full, is_dir or not full


class _Planner:
    def __init__(self, state: StageState, req: CopyRequest, warn: Callable[[str], None]):
        self.state = state
        self.req = req
        self.warn = warn
        self.entries: dict[str, PlanEntry] = {}
        self.owner = req.chown or (0, 0)

    def ensure_dir(self, path: str, *, itself: bool = True) -> None:
        parts = path.split("/") if path else []
        for i in range(len(parts)):
            prefix = "/".join(parts[: i + 1])
            last = i == len(parts) - 1
            if prefix in self.entries:
                continue
            known = self.state.dirs.get(prefix)
            if known is not None:
                mode, uid, gid = known
            elif self.state.base_unread and not (last and itself and self.req.chown):
                continue  # the base may have it: keep its metadata (or let the runtime make it)
            else:
                mode, (uid, gid) = 0o755, self.owner
            self.entries[prefix] = PlanEntry("dir", prefix, mode=mode, uid=uid, gid=gid)

    def add(self, node: Node, dest: str) -> None:
        self.ensure_dir(posixpath.dirname(dest), itself=False)
        uid, gid = self.req.chown or (node.uid, node.gid)
        mode = self.req.chmod if self.req.chmod is not None else node.mode
        if node.kind == "dir":
            self.entries[dest] = PlanEntry("dir", dest, mode=mode, uid=uid, gid=gid)
        elif node.kind == "symlink":
            self.entries[dest] = PlanEntry("symlink", dest, node.linkname, 0o777, uid, gid)
        elif node.kind == "file":
            self.entries[dest] = PlanEntry(
                "file", dest, node.path, mode=mode, uid=uid, gid=gid, data=node.data
            )
        else:
            self.warn(f"{node.rel}: {node.kind} files are not copied")

    def is_dir(self, dest: str) -> bool:
        known = self.state.dir_paths | set(self.state.dirs)
        return dest in known or (self.state.base_unread and dest in STANDARD_DIRS)

    def copy(self, fs: SourceFS, src: str, dest: str, dest_is_dir: bool) -> None:
        if has_wildcards(src):
            nodes = fs.glob(src)
            if len(nodes) > 1 and not dest_is_dir:
                raise InvalidInput(
                    f"{src} matches {len(nodes)} files: the destination must be a directory "
                    "and end with a /"
                )
        else:
            node = fs.lookup(src)
            if node is None:
                raise InvalidInput(f"{src}: not found (or excluded by .dockerignore)")
            nodes = [node]
        for node in nodes:
            base = posixpath.basename(node.rel.rstrip("/"))
            if node.kind == "dir":
                self.ensure_dir(dest)
                prefix = node.real + "/" if node.real else ""
                for child in fs.walk(node):
                    self.add(child, posixpath.join(dest, child.real[len(prefix) :]))
            elif self.req.add and node.kind == "file" and node.path and is_archive(node.path):
                self.ensure_dir(dest)
                uid, gid = self.owner
                entry = PlanEntry("archive", dest, node.path, 0, uid, gid, self.req.chown is None)
                self.entries[f"\0archive:{len(self.entries)}"] = entry
            elif dest_is_dir or self.is_dir(dest):
                self.add(node, posixpath.join(dest, base) if base else dest)
            else:
                named = posixpath.basename(dest)
                if self.state.base_unread and named != base and "." not in named:
                    self.warn(
                        f"/{dest} is taken as the new path of {src} (hoist does not read the "
                        f"base image's files); write /{dest}/ to copy into a directory"
                    )
                self.add(node, dest)


def plan_copy(
    state: StageState, req: CopyRequest, fs: SourceFS, warn: Callable[[str], None]
) -> tuple[PlanEntry, ...]:
    """What a COPY or ADD puts in its layer, in order."""
    dest, dest_is_dir = _dest(req.dest, str(state.draft.config.get("WorkingDir") or "/"))
    if len(req.sources) > 1 and not dest_is_dir:
        word = "ADD" if req.add else "COPY"
        raise InvalidInput(
            f"When using {word} with more than one source file, the destination must be a "
            "directory and end with a /"
        )
    planner = _Planner(state, req, warn)
    for src in req.sources:
        if _URL.match(src):
            if not req.add:
                raise InvalidInput(f"source can't be a URL for COPY: {src}")
            raise InvalidInput(f"{src}: fetching URLs needs the network; hoist builds offline")
        planner.copy(fs, src, dest, dest_is_dir)
    return tuple(planner.entries.values())


class _Layer(LayerBuilder):
    """A LayerBuilder that adds no parent directories of its own: the plan decides them."""

    def _parents(self, name: str) -> None:
        return None

    def symlink(self, dest: str, target: str, uid: int, gid: int) -> None:
        self.uid, self.gid = uid, gid
        try:
            self.add_symlink(dest, target)
        finally:
            self.uid = self.gid = 0


def _unpack(builder: _Layer, entry: PlanEntry) -> None:
    seen: dict[str, bytes] = {}
    try:
        with _open_tar(entry.source) as tar:
            for member in tar:
                name = _member_name(member.name)
                if not name:
                    continue
                dest = posixpath.join(entry.dest, name) if entry.dest else name
                uid, gid = (member.uid, member.gid) if entry.keep_owner else (entry.uid, entry.gid)
                if member.isdir():
                    builder.add_dir(dest, mode=member.mode, uid=uid, gid=gid)
                elif member.issym():
                    builder.symlink(dest, member.linkname, uid, gid)
                elif member.isreg() or member.islnk():
                    if member.islnk():
                        target = _member_name(member.linkname)
                        if target not in seen:
                            raise InvalidInput(
                                f"hard link {name} to {target}: no such file before it"
                            )
                        data = seen[target]
                    else:
                        with open_member(tar, member) as reader:  # sparse: refused
                            data = reader.read()
                        seen[name] = data
                    builder.add_bytes(dest, data, mode=member.mode, uid=uid, gid=gid)
    except (tarfile.TarError, EOFError, lzma.LZMAError, OSError) as exc:
        raise InvalidInput(f"ADD {Path(entry.source).name}: bad archive: {exc}") from None


def write_layer(
    plan: Sequence[PlanEntry], *, compression: str, mtime: int, workdir: Path
) -> NewLayer:
    """Write the layer ``plan`` describes (sorted, times fixed to ``mtime``)."""
    builder = _Layer(compression=compression, mtime=mtime, workdir=workdir)
    for e in plan:
        if e.kind == "dir":
            builder.add_dir(e.dest, mode=e.mode, uid=e.uid, gid=e.gid)
        elif e.kind == "file":
            builder.add_path(Path(e.source), e.dest, uid=e.uid, gid=e.gid, mode=e.mode)
        elif e.kind == "symlink":
            builder.symlink(e.dest, e.source, e.uid, e.gid)
        elif e.kind == "archive":
            _unpack(builder, e)
    return builder.finish()
