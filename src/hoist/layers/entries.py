"""The entries of a layer tar, read while the layer streams: never stored, never seeked.

Each tar member becomes an :class:`Entry` with a safe path; whiteout files become entries of
kind ``whiteout`` (naming the deleted path) or ``opaque`` (naming the directory whose lower
contents are hidden), as the OCI layer spec describes.
"""

from __future__ import annotations

import hashlib
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import IO, Any, cast

from hoist.errors import HoistError, InvalidLayer, UnsafeLayer
from hoist.layers.paths import display, normalize, whiteout_target
from hoist.layers.stream import LayerStream
from hoist.model.digest import CHUNK, Digest

__all__ = [
    "KINDS",
    "Entry",
    "LayerListing",
    "Member",
    "list_layer",
    "open_member",
    "walk_layer",
]

TAR_BUFSIZE = 16 * 1024
"""Block size tarfile's stream mode reads with (it copies its buffer on every small read)."""
MAX_HEADER_SIZE = 64 * 1024
"""PAX and GNU long-name headers larger than this are refused instead of read.

Real ones hold a long path or a few xattrs (well under 8 KiB). The cap is low because CPython's
tarfile before 3.11.10/3.12.6 parses PAX records in time quadratic in their size
(CVE-2024-6232): a 64 KiB record is seconds, a 16 MiB one would be hours."""

KINDS = ("file", "dir", "symlink", "hardlink", "char", "block", "fifo", "whiteout", "opaque")
"""Entry kinds; the last two are deletions."""

_TYPE_BITS = {
    "file": stat.S_IFREG,
    "hardlink": stat.S_IFREG,
    "dir": stat.S_IFDIR,
    "symlink": stat.S_IFLNK,
    "char": stat.S_IFCHR,
    "block": stat.S_IFBLK,
    "fifo": stat.S_IFIFO,
}
_HEADER_TYPES = (
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
)


@dataclass(frozen=True, slots=True)
class Entry:
    """One file, directory, link, device or deletion in a layer or merged filesystem.

    ``path`` is normalised (``etc/os-release``); :attr:`display_path` adds the ``/``.
    ``layer`` and ``ordinal`` say which layer and which tar member it came from; ``data``
    is the ``(layer, ordinal)`` holding its bytes (a hard link's target's); ``content`` is
    the sha256 of the bytes when the listing hashed them.
    """

    path: str
    kind: str
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    size: int = 0
    mtime: float = 0
    linkname: str = ""
    uname: str = ""
    gname: str = ""
    devmajor: int = 0
    devminor: int = 0
    layer: int = -1
    ordinal: int = -1
    data: tuple[int, int] | None = None
    content: Digest | None = None
    xattrs: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def display_path(self) -> str:
        return display(self.path)

    @property
    def is_deletion(self) -> bool:
        return self.kind in ("whiteout", "opaque")

    @property
    def mtime_iso(self) -> str:
        try:
            return datetime.fromtimestamp(self.mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        except (OverflowError, OSError, ValueError):
            return str(self.mtime)

    def filemode(self) -> str:
        """``ls -l`` style: ``-rw-r--r--``, ``drwxr-xr-x``, ``lrwxrwxrwx``."""
        if self.is_deletion:
            return "D---------" if self.kind == "whiteout" else "O---------"
        mode = stat.filemode(_TYPE_BITS[self.kind] | (self.mode & 0o7777))
        return "h" + mode[1:] if self.kind == "hardlink" else mode

    def target_text(self) -> str:
        """What ``ls`` shows after the name: ``-> target``, ``link to path``, a note."""
        if self.kind == "symlink":
            return f"-> {self.linkname}"
        if self.kind == "hardlink":
            return f"link to {display(self.linkname)}"
        if self.kind in ("char", "block"):
            return f"device {self.devmajor},{self.devminor}"
        if self.kind == "whiteout":
            return "(deleted)"
        if self.kind == "opaque":
            return "(opaque: lower contents hidden)"
        return ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.display_path, "type": self.kind}
        if not self.is_deletion:
            out.update(
                mode=f"{self.mode & 0o7777:04o}",
                uid=self.uid,
                gid=self.gid,
                size=self.size,
                mtime=self.mtime_iso,
            )
            if self.linkname:
                out["linkname"] = self.linkname
            if self.kind in ("char", "block"):
                out["device"] = [self.devmajor, self.devminor]
            if self.content is not None:
                out["sha256"] = str(self.content)
        if self.layer >= 0:
            out["layer"] = self.layer
        return out

    def replace(self, **changes: Any) -> Entry:
        return replace(self, **changes)


@dataclass
class LayerListing:
    """Every entry of one layer, in tar order, with its two digests."""

    entries: list[Entry]
    diff_id: Digest
    size: int
    """Uncompressed size in bytes."""
    compression: str
    layer: int = -1
    digest: Digest | None = None


class _SafeTarInfo(tarfile.TarInfo):
    """Refuses oversized PAX/GNU headers instead of reading them into memory."""

    def _proc_member(self, tarfile_: tarfile.TarFile) -> Any:
        if self.type in _HEADER_TYPES and self.size > MAX_HEADER_SIZE:
            raise UnsafeLayer(f"a tar extended header of {self.size} bytes is too large")
        return super()._proc_member(tarfile_)  # type: ignore[misc]


def _kind(info: tarfile.TarInfo) -> str:
    if info.isdir():
        return "dir"
    if info.issym():
        return "symlink"
    if info.islnk():
        return "hardlink"
    if info.isreg():
        return "file"
    if info.ischr():
        return "char"
    if info.isblk():
        return "block"
    if info.isfifo():
        return "fifo"
    raise InvalidLayer(f"tar entry {info.name!r} has unsupported type {info.type!r}")


def _xattrs(info: tarfile.TarInfo) -> dict[str, str]:
    prefix = "SCHILY.xattr."
    return {k[len(prefix) :]: v for k, v in info.pax_headers.items() if k.startswith(prefix)}


def entry_of(info: tarfile.TarInfo, *, layer: int = -1, ordinal: int = -1) -> Entry | None:
    """The Entry a tar member stands for; None for the root and AUFS bookkeeping files."""
    path = normalize(info.name)
    if not path:
        return None
    wh = whiteout_target(path)
    if wh is not None:
        kind, target = wh
        if kind == "ignore":
            return None
        return Entry(target, kind, layer=layer, ordinal=ordinal, mtime=info.mtime)
    kind = _kind(info)
    linkname = info.linkname
    if kind == "hardlink":
        linkname = normalize(linkname, what=f"hard link {info.name!r} to")
    return Entry(
        path=path,
        kind=kind,
        mode=info.mode & 0o7777,
        uid=info.uid,
        gid=info.gid,
        size=info.size if kind == "file" else 0,
        mtime=info.mtime,
        linkname=linkname,
        uname=info.uname,
        gname=info.gname,
        devmajor=info.devmajor,
        devminor=info.devminor,
        layer=layer,
        ordinal=ordinal,
        data=(layer, ordinal) if kind == "file" else None,
        xattrs=_xattrs(info) if info.pax_headers else {},
    )


def open_member(tar: tarfile.TarFile, info: tarfile.TarInfo) -> IO[bytes]:
    """The bytes of a file member; sparse members are refused.

    A GNU or PAX sparse entry expands to its declared size from a few bytes of tar (a 10 KiB
    layer can claim 300 MiB of holes), past every limit that counts the layer's own bytes.
    """
    if info.sparse is not None or info.type == tarfile.GNUTYPE_SPARSE:
        raise UnsafeLayer(
            f"{display(normalize(info.name))}: sparse tar entries are refused "
            f"(it would expand to {info.size} bytes from a few)",
            info.name,
        )
    reader = tar.extractfile(info)
    if reader is None:
        raise InvalidLayer(f"{display(normalize(info.name))} has no content to read")
    return cast(IO[bytes], _MemberReader(reader, display(normalize(info.name))))


class _MemberReader:
    """A member's bytes; a tar that ends inside the member is an InvalidLayer, not a ReadError."""

    def __init__(self, reader: IO[bytes], name: str) -> None:
        self._reader = reader
        self._name = name

    def read(self, size: int = -1, /) -> bytes:
        try:
            return self._reader.read(size)
        except (tarfile.TarError, EOFError) as exc:
            raise InvalidLayer(f"{self._name}: the layer ends inside this file ({exc})") from None

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._reader.close()

    def __enter__(self) -> _MemberReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class Member:
    """An entry being streamed; :meth:`open` reads its bytes before the walk moves on."""

    entry: Entry
    info: tarfile.TarInfo
    _tar: tarfile.TarFile

    def open(self) -> IO[bytes]:
        """The member's bytes (sparse members are refused: see :func:`open_member`)."""
        return open_member(self._tar, self.info)


_BAD_HEADER = (tarfile.TarError, UnicodeError, ValueError, OverflowError)
"""What tarfile raises on hostile headers: its own errors, and bare ValueErrors from numbers
it converts unchecked (a PAX ``GNU.sparse.size`` of 5000 digits)."""


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200] or type(exc).__name__


def walk_layer(stream: LayerStream, *, layer: int = -1) -> Iterator[Member]:
    """Each entry of the layer in tar order (root and AUFS files skipped; ordinals count
    every tar member). Call ``stream.finish()`` afterwards for the digests."""
    try:
        tar = tarfile.open(  # noqa: SIM115 - closing it would close nothing of ours
            fileobj=cast(IO[bytes], stream),
            mode="r|",
            bufsize=TAR_BUFSIZE,
            tarinfo=_SafeTarInfo,
        )
    except HoistError:
        raise
    except tarfile.ReadError as exc:
        if stream.size == 0:
            return  # an empty blob: an empty layer
        raise InvalidLayer(f"{stream.name}: not a tar archive: {exc}") from None
    except _BAD_HEADER as exc:
        raise InvalidLayer(f"{stream.name}: bad tar data: {_reason(exc)}") from None
    members = cast(Any, tar).members
    ordinal = 0
    while True:
        try:
            info = tar.next()
        except HoistError:
            raise
        except _BAD_HEADER as exc:
            raise InvalidLayer(f"{stream.name}: bad tar data: {_reason(exc)}") from None
        if info is None:
            break
        members.clear()  # stream mode keeps every member otherwise
        entry = entry_of(info, layer=layer, ordinal=ordinal)
        ordinal += 1
        if entry is not None:
            yield Member(entry, info, tar)


def _hash(reader: IO[bytes]) -> Digest:
    h = hashlib.sha256()
    while chunk := reader.read(CHUNK):
        h.update(chunk)
    return Digest("sha256", h.hexdigest())


def list_layer(
    stream: LayerStream,
    *,
    layer: int = -1,
    hash_files: bool = False,
    digest: Digest | None = None,
) -> LayerListing:
    """List a layer while it streams; with ``hash_files`` each file's sha256 too."""
    entries = []
    for member in walk_layer(stream, layer=layer):
        entry = member.entry
        if hash_files and entry.kind == "file":
            entry = entry.replace(content=_hash(member.open()))
        entries.append(entry)
    diff_id = stream.finish()
    return LayerListing(entries, diff_id, stream.size, stream.compression, layer, digest)
