"""New layers: a tar of files, compressed while written, with both of its digests.

Entries are sorted and, when reproducible, get fixed times and ownership, so the same input
gives the same bytes (and digests) on every machine. The compressed blob goes to a temporary
file, never to memory, and is hashed (digest) as the tar is hashed (diff_id).
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from hoist.errors import InvalidInput
from hoist.layers.entries import open_member
from hoist.model import mediatype as mt
from hoist.model.descriptor import Descriptor
from hoist.model.digest import Digest

__all__ = [
    "COMPRESSIONS",
    "HashingWriter",
    "LayerBuilder",
    "LayerWriter",
    "NewLayer",
    "compressed_writer",
    "layer_media_type",
]

COMPRESSIONS = ("gzip", "zstd", "none")


def layer_media_type(compression: str, *, docker: bool = False) -> str:
    """The layer media type for a compression (``docker`` gives schema2 types)."""
    if docker:
        return {
            "gzip": mt.DOCKER_LAYER,
            "none": "application/vnd.docker.image.rootfs.diff.tar",
            "zstd": "application/vnd.docker.image.rootfs.diff.tar.zstd",
        }[compression]
    return {"gzip": mt.OCI_LAYER_GZIP, "zstd": mt.OCI_LAYER_ZSTD, "none": mt.OCI_LAYER}[compression]


@dataclass
class NewLayer:
    """A finished layer: its compressed blob in a temporary file and its two digests."""

    descriptor: Descriptor
    diff_id: Digest
    path: Path
    entries: int = 0

    def open(self) -> IO[bytes]:
        return open(self.path, "rb")

    def read_bytes(self) -> bytes:
        return self.path.read_bytes()

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


class HashingWriter:
    """Counts and hashes (sha256) bytes on their way to ``target``."""

    def __init__(self, target: Any) -> None:
        self.target = target
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.hash.update(view)
        self.size += len(view)
        self.target.write(view)
        return len(view)

    def flush(self) -> None:
        self.target.flush()

    @property
    def digest(self) -> Digest:
        """The sha256 digest of what was written so far."""
        return Digest("sha256", self.hash.hexdigest())


@contextmanager
def compressed_writer(target: Any, compression: str, level: int | None = None) -> Iterator[Any]:
    """A writer whose bytes reach ``target`` compressed (gzip, zstd or none).

    Leaving the block finishes the compressed stream; ``target`` itself is not closed. gzip
    uses isal (level 0-3, default 2) and falls back to the standard library (level 0-9,
    default 6) when isal is missing; zstd's level defaults to 3. The gzip header carries no
    time, so the same bytes in give the same bytes out.
    """
    if compression not in COMPRESSIONS:
        raise InvalidInput(f"unknown compression {compression!r}: gzip, zstd or none")
    if compression == "none":
        yield target
        return
    writer: Any
    if compression == "zstd":
        import zstandard

        cctx = zstandard.ZstdCompressor(level=3 if level is None else level)
        writer = cctx.stream_writer(target, closefd=False)
    else:
        try:
            from isal import igzip

            factory: Any = igzip.IGzipFile
            writer = factory(
                fileobj=target, mode="wb", compresslevel=2 if level is None else level, mtime=0
            )
        except ImportError:
            import gzip

            writer = gzip.GzipFile(
                fileobj=target, mode="wb", compresslevel=6 if level is None else level, mtime=0
            )
    yield writer
    writer.close()


@dataclass
class _Entry:
    info: tarfile.TarInfo
    source: Path | bytes | None = None


@dataclass
class LayerBuilder:
    """Collects entries, then writes one sorted, compressed layer tar.

    ``mtime`` (seconds) fixes every entry's time (reproducible builds use SOURCE_DATE_EPOCH
    or 0); ``uid``/``gid`` fix ownership unless an entry sets its own.
    """

    compression: str = "gzip"
    level: int | None = None
    mtime: int | None = 0
    uid: int = 0
    gid: int = 0
    docker: bool = False
    workdir: Path | None = None
    _entries: dict[str, _Entry] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.compression not in COMPRESSIONS:
            raise InvalidInput(f"unknown compression {self.compression!r}: gzip, zstd or none")

    @staticmethod
    def _name(dest: str) -> str:
        parts = PurePosixPath("/" + dest.lstrip("/")).parts[1:]
        if any(p == ".." for p in parts):
            raise InvalidInput(f"layer path {dest!r} reaches outside the root")
        return "/".join(parts)

    def _info(self, name: str, kind: bytes, mode: int, *, mtime: float = 0) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.mode = mode & 0o7777
        info.uid, info.gid = self.uid, self.gid
        info.uname = info.gname = ""
        info.mtime = int(self.mtime if self.mtime is not None else mtime)
        return info

    def _parents(self, name: str) -> None:
        parent = PurePosixPath(name).parent
        while str(parent) not in (".", "/", ""):
            key = str(parent)
            if key not in self._entries:
                self._entries[key] = _Entry(self._info(key, tarfile.DIRTYPE, 0o755))
            parent = parent.parent

    def add_bytes(
        self,
        dest: str,
        data: bytes,
        *,
        mode: int = 0o644,
        uid: int | None = None,
        gid: int | None = None,
    ) -> None:
        """A regular file with ``data``."""
        name = self._name(dest)
        info = self._info(name, tarfile.REGTYPE, mode)
        info.size = len(data)
        self._own(info, uid, gid)
        self._parents(name)
        self._entries[name] = _Entry(info, data)

    def add_dir(
        self, dest: str, *, mode: int = 0o755, uid: int | None = None, gid: int | None = None
    ) -> None:
        """A directory entry."""
        name = self._name(dest)
        if not name:
            return
        info = self._info(name, tarfile.DIRTYPE, mode)
        self._own(info, uid, gid)
        self._parents(name)
        self._entries[name] = _Entry(info)

    def add_symlink(self, dest: str, target: str) -> None:
        name = self._name(dest)
        info = self._info(name, tarfile.SYMTYPE, 0o777)
        info.linkname = target
        self._parents(name)
        self._entries[name] = _Entry(info)

    def add_path(
        self,
        source: Path,
        dest: str,
        *,
        uid: int | None = None,
        gid: int | None = None,
        mode: int | None = None,
    ) -> None:
        """A file, symlink or whole directory tree from the local filesystem."""
        name = self._name(dest)
        st = source.lstat()
        if stat.S_ISLNK(st.st_mode):
            info = self._info(name, tarfile.SYMTYPE, 0o777, mtime=st.st_mtime)
            info.linkname = os.readlink(source)
            self._own(info, uid, gid)
            self._parents(name)
            self._entries[name] = _Entry(info)
        elif stat.S_ISDIR(st.st_mode):
            if name:
                info = self._info(name, tarfile.DIRTYPE, mode or st.st_mode, mtime=st.st_mtime)
                self._own(info, uid, gid)
                self._parents(name)
                self._entries[name] = _Entry(info)
            for child in sorted(source.iterdir()):
                child_dest = f"{name}/{child.name}" if name else child.name
                self.add_path(child, child_dest, uid=uid, gid=gid, mode=mode)
        elif stat.S_ISREG(st.st_mode):
            info = self._info(name, tarfile.REGTYPE, mode or st.st_mode, mtime=st.st_mtime)
            info.size = st.st_size
            self._own(info, uid, gid)
            self._parents(name)
            self._entries[name] = _Entry(info, source)
        else:
            raise InvalidInput(f"{source}: only files, directories and symlinks can be added")

    def add_tar(self, source: IO[bytes]) -> None:
        """Every entry of an existing tar (any compression), as they are."""
        with tarfile.open(fileobj=source, mode="r:*") as tar:
            for info in tar:
                data = None
                if info.isfile():
                    data = open_member(tar, info).read()
                self.add_raw(info, data)

    def add_raw(self, info: tarfile.TarInfo, data: bytes | None = None) -> None:
        """An entry read from another tar: its type, mode, owner and link kept."""
        name = self._name(info.name)
        if not name:
            return
        copy = self._info(name, info.type, info.mode, mtime=info.mtime)
        copy.size = len(data) if data is not None else 0
        copy.linkname = info.linkname
        copy.uid, copy.gid = info.uid, info.gid
        copy.uname, copy.gname = info.uname, info.gname
        copy.devmajor, copy.devminor = info.devmajor, info.devminor
        copy.pax_headers = {k: v for k, v in info.pax_headers.items() if k.startswith("SCHILY.")}
        self._parents(name)
        self._entries[name] = _Entry(copy, data)

    @staticmethod
    def _own(info: tarfile.TarInfo, uid: int | None, gid: int | None) -> None:
        if uid is not None:
            info.uid = uid
        if gid is not None:
            info.gid = gid

    def __len__(self) -> int:
        return len(self._entries)

    def _sorted(self) -> Iterator[_Entry]:
        for name in sorted(self._entries):
            yield self._entries[name]

    def finish(self) -> NewLayer:
        """Write the layer and return it (its blob in a temporary file)."""
        with LayerWriter(
            self.compression, self.level, docker=self.docker, workdir=self.workdir
        ) as writer:
            sink: Any = writer
            with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                for entry in self._sorted():
                    self._write(tar, entry)
            return writer.finish(entries=len(self._entries))

    @staticmethod
    def _write(tar: tarfile.TarFile, entry: _Entry) -> None:
        if isinstance(entry.source, Path):
            with open(entry.source, "rb") as f:
                tar.addfile(entry.info, f)
        elif isinstance(entry.source, bytes):
            tar.addfile(entry.info, io.BytesIO(entry.source))
        else:
            tar.addfile(entry.info)


class LayerWriter:
    """A layer made from a tar stream: the plain tar bytes written here are hashed (the
    diff_id), compressed and hashed again (the digest) on their way to a temporary file.

    ::

        with LayerWriter("gzip") as writer:
            with tarfile.open(fileobj=writer, mode="w|") as tar:
                ...
            layer = writer.finish()

    Leaving the block without :meth:`finish` (an error) removes the temporary file.
    """

    def __init__(
        self,
        compression: str = "gzip",
        level: int | None = None,
        *,
        docker: bool = False,
        workdir: Path | None = None,
    ) -> None:
        if compression not in COMPRESSIONS:
            raise InvalidInput(f"unknown compression {compression!r}: gzip, zstd or none")
        self.compression = compression
        self.level = level
        self.docker = docker
        self.workdir = workdir
        self._stack = ExitStack()
        self._path: Path | None = None
        self._compressed: HashingWriter | None = None
        self._plain: HashingWriter | None = None
        self._layer: NewLayer | None = None

    def __enter__(self) -> LayerWriter:
        fd, tmp = tempfile.mkstemp(prefix="hoist-layer-", dir=self.workdir)
        self._path = Path(tmp)
        try:
            out = self._stack.enter_context(os.fdopen(fd, "wb"))
            self._compressed = HashingWriter(out)
            compressor = self._stack.enter_context(
                compressed_writer(self._compressed, self.compression, self.level)
            )
            self._plain = HashingWriter(compressor)
        except BaseException:
            self._stack.close()
            self._path.unlink(missing_ok=True)
            raise
        return self

    def write(self, data: Any) -> int:
        assert self._plain is not None, "use LayerWriter as a context manager"
        return self._plain.write(data)

    def flush(self) -> None:
        """Nothing to do: the compressor is finished by :meth:`finish`."""

    @property
    def size(self) -> int:
        """Plain (uncompressed) bytes written so far."""
        return self._plain.size if self._plain is not None else 0

    def finish(self, *, entries: int = 0) -> NewLayer:
        """End the compressed stream and return the layer (its blob in the temporary file,
        which is the caller's to :meth:`NewLayer.discard`)."""
        if self._layer is not None:
            return self._layer
        assert self._path is not None and self._plain is not None and self._compressed
        self._stack.close()
        media_type = layer_media_type(self.compression, docker=self.docker)
        descriptor = Descriptor(media_type, self._compressed.digest, self._compressed.size)
        self._layer = NewLayer(descriptor, self._plain.digest, self._path, entries)
        return self._layer

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self._layer is None:
            try:
                self._stack.close()
            finally:
                if self._path is not None:
                    self._path.unlink(missing_ok=True)
