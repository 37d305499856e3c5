"""Unpack layers into a directory safely, one streaming pass per layer.

Every path is resolved inside the target root, component by component, the way a container
would see it: an absolute symlink starts again at the root (never the host's ``/``), and a
path through a symlink that climbs above the root is refused (UnsafeLayer). So nothing is
ever written outside the root: not through ``..``, absolute names, symlinks, or hard links.
Such a symlink itself is made (hoist never follows it out); ``Unpacker(root,
refuse_escaping_symlinks=True)`` refuses it instead.

Whiteouts and opaque directories apply to lower layers only, as the OCI layer spec says,
whatever their place in the tar. Device nodes are made only when allowed (by default only
when running as root); owners are set only as root; extended attributes (PAX
``SCHILY.xattr.*``) are set where the filesystem and privileges allow. Directory modes and
times are applied at the end, so a read-only directory can still be filled by a later layer;
each only to the very directory it was recorded for (same device and inode, reached from the
root without following any symlink), and forgotten when that directory is removed, so a
directory later replaced by a symlink never passes its attributes on to the link's target.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hoist.errors import InvalidLayer, UnsafeLayer
from hoist.layers.entries import Entry, Member, walk_layer
from hoist.layers.paths import climbs_out, display, resolve, split
from hoist.layers.stream import LayerStream
from hoist.model.digest import CHUNK

__all__ = ["UnpackResult", "Unpacker"]


@dataclass
class UnpackResult:
    """What an unpack made, and what it left out."""

    root: str
    files: int = 0
    dirs: int = 0
    symlinks: int = 0
    hardlinks: int = 0
    devices: int = 0
    fifos: int = 0
    whiteouts: int = 0
    bytes: int = 0
    """Bytes of file content written."""
    skipped: list[str] = field(default_factory=list)
    """What was not made (device nodes when not allowed, extended attributes the filesystem
    refused), as ``/path (reason)``."""
    layers: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


_O_PATH = getattr(os, "O_PATH", os.O_RDONLY)
"""Opens a directory only to look names up in it (no read permission needed, on Linux)."""
_O_DIR = os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
"""A directory, never through a symlink: ELOOP or ENOTDIR instead."""


_ID_MAX = 2**32 - 2
"""Largest uid or gid a file can have (``(uid_t) -1`` means "unchanged" to chown)."""


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


class Unpacker:
    """Applies layers, in order, to the directory ``root`` (created if missing).

    ``refuse_escaping_symlinks`` refuses (UnsafeLayer) a symlink whose target climbs above
    the root with ``..``, instead of making it.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        devices: bool | None = None,
        refuse_escaping_symlinks: bool = False,
    ) -> None:
        os.makedirs(root, exist_ok=True)
        self.root = os.path.realpath(root)
        self.privileged = _is_root()
        self.devices = self.privileged if devices is None else devices
        self.refuse_escaping_symlinks = refuse_escaping_symlinks
        self.result = UnpackResult(self.root)
        self._known_dirs: set[str] = set()
        self._dir_attrs: dict[str, tuple[Entry, int, int]] = {}
        """Directory entries to apply at the end, by key: the entry, st_dev and st_ino."""
        self._dir_children: dict[str, set[str]] = {}
        """Keys on the way to those in ``_dir_attrs``, by parent key: to forget a subtree."""
        self._created: set[str] = set()

    # -- paths -----------------------------------------------------------------------------

    def _abs(self, parts: tuple[str, ...]) -> str:
        return os.path.join(self.root, *parts)

    def _lookup(self, parts: tuple[str, ...]) -> tuple[str | None, str]:
        key = "/".join(parts)
        if key in self._known_dirs:
            return "dir", ""
        path = self._abs(parts)
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            return None, ""
        if stat.S_ISDIR(st.st_mode):
            self._known_dirs.add(key)
            return "dir", ""
        if stat.S_ISLNK(st.st_mode):
            return "symlink", os.readlink(path)
        return "file", ""

    def _resolve(self, path: str, label: str, *, follow_last: bool = True) -> tuple[str, ...]:
        parts = [p for p in path.split("/") if p]
        return resolve(parts, self._lookup, follow_last=follow_last, name=label)

    def _makedirs(self, parts: tuple[str, ...], label: str) -> None:
        for i in range(1, len(parts) + 1):
            sub = parts[:i]
            key = "/".join(sub)
            if key in self._known_dirs:
                continue
            try:
                os.mkdir(self._abs(sub), 0o755)
            except FileExistsError:
                if not stat.S_ISDIR(os.lstat(self._abs(sub)).st_mode):
                    raise InvalidLayer(
                        f"{display(label)}: {display(key)} is not a directory"
                    ) from None
            self._known_dirs.add(key)

    def _remove(self, parts: tuple[str, ...]) -> None:
        path = self._abs(parts)
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            return
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(path)  # fd-based on Linux: never follows symlinks inside
            self._known_dirs.clear()
            self._forget_dirs("/".join(parts))
        else:
            os.unlink(path)

    def _record_dir(self, key: str, entry: Entry, st: os.stat_result) -> None:
        """Remember ``entry`` for the directory ``st`` at ``key``, to apply in finish()."""
        self._dir_attrs[key] = (entry, st.st_dev, st.st_ino)
        child = key
        while child:
            parent = child.rpartition("/")[0]
            kids = self._dir_children.setdefault(parent, set())
            if child in kids:
                break  # the rest of the way up is known already
            kids.add(child)
            child = parent

    def _forget_dirs(self, key: str) -> None:
        """Drop what was recorded for ``key`` and everything under it (removed)."""
        todo = [key]
        while todo:
            k = todo.pop()
            self._dir_attrs.pop(k, None)
            todo.extend(self._dir_children.pop(k, ()))
        self._dir_children.get(key.rpartition("/")[0], set()).discard(key)

    def _clear(self, parts: tuple[str, ...]) -> None:
        """Remove what lower layers left in a directory, keeping this layer's entries."""
        for name in os.listdir(self._abs(parts)):
            child = (*parts, name)
            if "/".join(child) in self._created:
                if stat.S_ISDIR(os.lstat(self._abs(child)).st_mode):
                    self._clear(child)
            else:
                self._remove(child)

    def _mark_created(self, parts: tuple[str, ...]) -> None:
        for i in range(len(parts), 0, -1):
            key = "/".join(parts[:i])
            if key in self._created:
                break
            self._created.add(key)

    # -- layers ----------------------------------------------------------------------------

    def apply(self, stream: LayerStream, *, layer: int = -1) -> None:
        """Apply one layer (the caller finishes the stream to get and check its digests)."""
        self._created = set()
        for member in walk_layer(stream, layer=layer):
            entry = member.entry
            if entry.kind == "opaque":
                parts = self._resolve(entry.path, entry.path)
                self._makedirs(parts, entry.path)
                self._mark_created(parts)
                self._clear(parts)
                self.result.whiteouts += 1
            elif entry.kind == "whiteout":
                self._whiteout(entry)
            else:
                self._add(member)
        self._created = set()

    def _whiteout(self, entry: Entry) -> None:
        self.result.whiteouts += 1
        parent, name = split(entry.path)
        try:
            parts = (*self._resolve(parent, entry.path), name)
        except InvalidLayer:
            return  # a parent is not a directory: nothing there to delete
        if "/".join(parts) in self._created:
            # This layer already wrote here: a deletion only hides what lower layers had.
            if self._lookup(parts)[0] == "dir":
                self._clear(parts)
            return
        self._remove(parts)

    def _add(self, member: Member) -> None:
        entry = member.entry
        parent, name = split(entry.path)
        parent_parts = self._resolve(parent, entry.path)
        if (
            entry.kind == "symlink"
            and self.refuse_escaping_symlinks
            and climbs_out(parent_parts, entry.linkname)
        ):
            raise UnsafeLayer(
                f"{entry.display_path}: symlink to {entry.linkname!r} climbs above the image "
                "root (escaping symlinks are refused)",
                entry.path,
            )
        self._makedirs(parent_parts, entry.path)
        parts = (*parent_parts, name)
        path = self._abs(parts)
        key = "/".join(parts)
        self._mark_created(parts)
        try:
            existing: os.stat_result | None = os.lstat(path)
        except FileNotFoundError:
            existing = None
        if entry.kind == "dir":
            if existing is None or not stat.S_ISDIR(existing.st_mode):
                if existing is not None:
                    self._remove(parts)
                os.mkdir(path, 0o755)
                self.result.dirs += 1
                existing = os.lstat(path)
            self._known_dirs.add(key)
            self._record_dir(key, entry, existing)
            return
        if existing is not None:
            self._remove(parts)
        make = self._makers().get(entry.kind)
        if make is None:
            raise InvalidLayer(f"{entry.display_path}: cannot unpack a {entry.kind}")
        if make(member, parts, path):
            self._attrs(entry, path)

    def _makers(self) -> dict[str, Callable[[Member, tuple[str, ...], str], bool]]:
        return {
            "file": self._file,
            "symlink": self._symlink,
            "hardlink": self._hardlink,
            "char": self._device,
            "block": self._device,
            "fifo": self._fifo,
        }

    def _file(self, member: Member, parts: tuple[str, ...], path: str) -> bool:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(path, flags, 0o600)
        with os.fdopen(fd, "wb") as out, member.open() as src:
            while chunk := src.read(CHUNK):
                out.write(chunk)
                self.result.bytes += len(chunk)
        self.result.files += 1
        return True

    def _symlink(self, member: Member, parts: tuple[str, ...], path: str) -> bool:
        os.symlink(member.entry.linkname, path)
        self.result.symlinks += 1
        return True

    def _hardlink(self, member: Member, parts: tuple[str, ...], path: str) -> bool:
        entry = member.entry
        target_parts = self._resolve(entry.linkname, entry.path, follow_last=False)
        target = self._abs(target_parts)
        try:
            st = os.lstat(target)
        except (FileNotFoundError, NotADirectoryError):
            raise InvalidLayer(
                f"{entry.display_path}: hard link target {display(entry.linkname)} does not exist"
            ) from None
        if stat.S_ISDIR(st.st_mode):
            raise InvalidLayer(
                f"{entry.display_path}: hard link target {display(entry.linkname)} is a directory"
            )
        os.link(target, path, follow_symlinks=False)
        self.result.hardlinks += 1
        return True  # the header's owner, mode and time apply to the shared inode, as in Docker

    def _device(self, member: Member, parts: tuple[str, ...], path: str) -> bool:
        entry = member.entry
        if not self.devices:
            self.result.skipped.append(f"{entry.display_path} ({entry.kind} device not allowed)")
            return False
        kind = stat.S_IFCHR if entry.kind == "char" else stat.S_IFBLK
        os.mknod(path, kind | entry.mode, os.makedev(entry.devmajor, entry.devminor))
        self.result.devices += 1
        return True

    def _fifo(self, member: Member, parts: tuple[str, ...], path: str) -> bool:
        os.mkfifo(path, 0o600)
        self.result.fifos += 1
        return True

    def _mode(self, entry: Entry) -> int:
        return entry.mode & (0o7777 if self.privileged else 0o1777)

    @staticmethod
    def _check_owner(entry: Entry) -> None:
        for what, value in (("uid", entry.uid), ("gid", entry.gid)):
            if not 0 <= value <= _ID_MAX:
                raise InvalidLayer(f"{entry.display_path}: {what} {value} is out of range")

    def _times(self, entry: Entry, target: str | int) -> None:
        """Set the entry's mtime; one the filesystem cannot hold is skipped and noted."""
        try:
            os.utime(target, (entry.mtime, entry.mtime), follow_symlinks=isinstance(target, int))
        except (OverflowError, ValueError, OSError) as exc:
            if isinstance(exc, OSError) and exc.errno not in (errno.EINVAL, errno.EOVERFLOW):
                raise
            self.result.skipped.append(f"{entry.display_path} (mtime {entry.mtime} out of range)")

    def _attrs(self, entry: Entry, path: str) -> None:
        if self.privileged:
            self._check_owner(entry)
            os.lchown(path, entry.uid, entry.gid)
        if entry.kind != "symlink":
            os.chmod(path, self._mode(entry))  # made here, not a symlink: nothing to follow
        for key, value in entry.xattrs.items():  # after chown, which drops capabilities
            try:
                raw = value.encode("utf-8", "surrogateescape")
                os.setxattr(path, key, raw, follow_symlinks=False)
            except OSError as exc:
                reason = exc.strerror or type(exc).__name__
                self.result.skipped.append(f"{entry.display_path} (xattr {key}: {reason})")
        self._times(entry, path)

    def _dir_attrs_fd(self, entry: Entry, fd: int) -> None:
        """``_attrs`` for a directory open as ``fd``: nothing is looked up by name again."""
        if self.privileged:
            self._check_owner(entry)
            os.fchown(fd, entry.uid, entry.gid)
        os.fchmod(fd, self._mode(entry))
        for key, value in entry.xattrs.items():  # after chown, which drops capabilities
            try:
                os.setxattr(fd, key, value.encode("utf-8", "surrogateescape"))
            except OSError as exc:
                reason = exc.strerror or type(exc).__name__
                self.result.skipped.append(f"{entry.display_path} (xattr {key}: {reason})")
        self._times(entry, fd)

    def _open_dir(self, parts: tuple[str, ...], dev: int, ino: int) -> int | None:
        """The directory at ``parts``, opened from the root without following any symlink,
        if it is still the one recorded (``dev``, ``ino``); else None."""
        fd = os.open(self.root, _O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for name in parts[:-1]:
                child = os.open(name, _O_PATH | _O_DIR, dir_fd=fd)
                os.close(fd)
                fd = child
            name = parts[-1]
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if not stat.S_ISDIR(st.st_mode) or (st.st_dev, st.st_ino) != (dev, ino):
                return None
            try:
                child = os.open(name, os.O_RDONLY | _O_DIR, dir_fd=fd)
            except PermissionError:  # unreadable to us (it was there before): it gets a new mode
                os.chmod(name, stat.S_IMODE(st.st_mode) | stat.S_IRUSR | stat.S_IXUSR, dir_fd=fd)
                child = os.open(name, os.O_RDONLY | _O_DIR, dir_fd=fd)
            st = os.fstat(child)
            if (st.st_dev, st.st_ino) != (dev, ino):
                os.close(child)
                return None
            return child
        except (FileNotFoundError, NotADirectoryError):
            return None  # gone, or a component is no longer a directory
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # a component is now a symlink
                return None
            raise
        finally:
            os.close(fd)

    def finish(self) -> UnpackResult:
        """Apply directory owners, modes and times, deepest first, each only to the directory
        it was recorded for: one since replaced (or under a parent since replaced) by a
        symlink or anything else is left alone."""
        try:
            for key in sorted(self._dir_attrs, key=lambda k: k.count("/"), reverse=True):
                entry, dev, ino = self._dir_attrs[key]
                fd = self._open_dir(tuple(key.split("/")), dev, ino)
                if fd is None:
                    continue
                try:
                    self._dir_attrs_fd(entry, fd)
                finally:
                    os.close(fd)
        finally:
            self._dir_attrs.clear()
            self._dir_children.clear()
        return self.result
