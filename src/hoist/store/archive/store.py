"""Image archives as stores: ``oci-archive://FILE[:tag]`` and ``docker-archive://FILE[:tag]``.

An existing archive is read-only: blobs are read straight from their offsets in the tar, so
reads are thread-safe and need no extraction. A new archive is written as content arrives
(blobs become tar members at once) and is completed by :meth:`close`, which adds the index
(``index.json`` or ``manifest.json``) and renames the file into place. The tar reading and
writing itself lives in :mod:`hoist.store.archive.reader` and :mod:`hoist.store.archive.writer`;
this module is the Store protocol side.
"""

from __future__ import annotations

import io
import tarfile
import tempfile
import threading
import zlib
from pathlib import Path
from typing import IO, TYPE_CHECKING

from hoist.errors import (
    BlobNotFound,
    DigestMismatch,
    InvalidManifest,
    ManifestNotFound,
    Unsupported,
)
from hoist.model import mediatype as mt
from hoist.model.descriptor import Descriptor
from hoist.model.digest import CHUNK, Digest, Readable, VerifyingReader, digest_of
from hoist.model.manifest import ImageManifest, Index, Manifest, parse_manifest
from hoist.model.reference import LayoutReference
from hoist.store.archive.reader import ArchiveReader, MemberSlice, tar_problem
from hoist.store.archive.writer import ArchiveWriter
from hoist.store.referrers import referrer_descriptor
from hoist.store.verified import VerifiedContent, verify_bytes

if TYPE_CHECKING:
    from hoist.model.reference import ImageRef

__all__ = ["ArchiveStore", "open_archive"]


class ArchiveStore:
    """Store for ``oci-archive://`` and ``docker-archive://`` files (read, or write new)."""

    def __init__(
        self, kind: str, *, output: IO[bytes] | None = None, max_bytes: int = 64 << 30
    ) -> None:
        """``output`` receives an archive written to the path ``-``; ``max_bytes`` bounds what
        a compressed archive may decompress to."""
        if kind not in ("oci-archive", "docker-archive"):
            raise Unsupported(f"unknown archive kind {kind}")
        self.kind = kind
        self.output = output
        self.max_bytes = max_bytes
        self._readers: dict[str, ArchiveReader] = {}
        self._writers: dict[str, ArchiveWriter] = {}
        self._lock = threading.Lock()

    # -- opening ---------------------------------------------------------------------------

    def _key(self, ref: ImageRef) -> str:
        if not isinstance(ref, LayoutReference):
            raise Unsupported(f"{ref} is not an archive reference")
        return ref.path

    def _reader(self, ref: ImageRef) -> ArchiveReader:
        key = self._key(ref)
        with self._lock:
            if key in self._writers:
                raise Unsupported(f"{key} is being written; it can be read once complete")
            reader = self._readers.get(key)
            if reader is None:
                path = Path(key)
                if not path.is_file():
                    raise ManifestNotFound(f"archive {key} not found")
                reader = self._readers[key] = ArchiveReader(path, self.kind, self.max_bytes)
        return reader

    def create(self, ref: ImageRef) -> None:
        """Start a new archive at ``ref``'s path, to replace any file there once complete:
        from now on ``ref`` is written, never read."""
        self._writer(ref)

    def name_images(self, ref: ImageRef, name: str) -> None:
        """Name what is written to ``ref``'s docker-archive (``RepoTags`` = NAME:TAG)."""
        self._writer(ref).image_name = name

    def _writer(self, ref: ImageRef) -> ArchiveWriter:
        key = self._key(ref)
        with self._lock:
            writer = self._writers.get(key)
            if writer is None:
                if key in self._readers:
                    raise Unsupported(f"{key} is open for reading; archives are not updated")
                if key == "-" and self.output is None:
                    raise Unsupported("writing an archive to - needs an output stream")
                output = self.output if key == "-" else None
                writer = self._writers[key] = ArchiveWriter(Path(key), self.kind, output)
        return writer

    def _resolve(self, ref: ImageRef) -> Descriptor:
        reader = self._reader(ref)
        entries = reader.index.manifests
        if ref.digest is not None:
            for d in entries:
                if d.digest == ref.digest:
                    return d
            if ref.digest in reader.blob_files or ref.digest in reader.manifests:
                raw = self._manifest_bytes(reader, ref.digest)
                return parse_manifest(raw).descriptor()
            raise ManifestNotFound(f"manifest {ref.digest} not in {reader.path}")
        if ref.tag is None:
            if len(entries) == 1 or len({d.digest for d in entries}) == 1:
                return entries[0]
            raise ManifestNotFound(
                f"{self._key(ref)} holds several images; name one: "
                + ", ".join(sorted({d.ref_name or str(d.digest) for d in entries}))
            )
        digest = self.find(ref, ref.tag)
        return next(d for d in entries if d.digest == digest)

    def find(self, ref: ImageRef, name: str) -> Digest:
        """The digest of the image named ``name`` (``app:v1``, ``v1``) in the archive."""
        entries = self._reader(ref).index.manifests
        for d in entries:
            ref_name = d.ref_name or ""
            if name in (ref_name, ref_name.rpartition(":")[2]) or ref_name == f"{name}:latest":
                return d.digest
            if ref_name.startswith("docker.io/") and ref_name.endswith(f"/{name}"):
                return d.digest
        names = ", ".join(sorted({d.ref_name for d in entries if d.ref_name})) or "none"
        raise ManifestNotFound(f"{name!r} not found in {self._key(ref)} (names: {names})")

    @staticmethod
    def _manifest_bytes(reader: ArchiveReader, digest: Digest) -> bytes:
        if digest in reader.manifests:
            return reader.manifests[digest]
        name = reader.blob_files.get(digest)
        if name is None:
            raise ManifestNotFound(f"manifest {digest} not in {reader.path}")
        raw = reader.read_member(name, limit=(4 << 20) + 1)
        if digest_of(raw, digest.algorithm) != digest:
            raise DigestMismatch(f"manifest {digest} in {reader.path} does not match its digest")
        return raw

    # -- the Store protocol ----------------------------------------------------------------

    def manifest_head(self, ref: ImageRef) -> Descriptor:
        with self._lock:
            writer = self._writers.get(self._key(ref))
        if writer is not None:  # what this archive has been given so far
            digest = ref.digest or writer.tags.get(f"{writer.image_name}:{ref.tag}")
            digest = digest or writer.tags.get(ref.tag or "")
            if digest is None or digest not in writer.manifests:
                raise ManifestNotFound(f"{ref} not in the archive being written")
            return writer.manifests[digest].descriptor()
        d = self._resolve(ref)
        return Descriptor(d.media_type, d.digest, d.size)

    def manifest_get(self, ref: ImageRef) -> Manifest:
        reader = self._reader(ref)
        d = self._resolve(ref)
        return parse_manifest(self._manifest_bytes(reader, d.digest), d.media_type)

    def manifest_put(self, ref: ImageRef, manifest: Manifest) -> Descriptor:
        writer = self._writer(ref)
        if manifest.digest not in writer.manifests:
            if self.kind == "oci-archive":
                self.blob_put(ref, manifest.raw, digest=manifest.digest, size=manifest.size)
            writer.manifests[manifest.digest] = manifest
        if ref.tag is not None and ref.digest is None:
            tag = ref.tag
            if self.kind == "docker-archive":
                tag = f"{writer.image_name}:{tag}"
            writer.tags[tag] = manifest.digest
        else:
            writer.untagged.append(manifest.digest)
        return manifest.descriptor()

    def manifest_delete(self, ref: ImageRef) -> None:
        raise Unsupported("archives are written once; delete is not supported")

    def blob_head(self, ref: ImageRef, digest: Digest) -> Descriptor:
        key = self._key(ref)
        with self._lock:
            writer = self._writers.get(key)
        if writer is not None:
            if digest in writer.blobs:
                return Descriptor("application/octet-stream", digest, writer.blobs[digest])
            raise BlobNotFound(f"blob {digest} not in {key}")
        if not Path(key).is_file():
            raise BlobNotFound(f"blob {digest} not in {key}: no such archive")
        reader = self._reader(ref)
        name = reader.blob_files.get(digest)
        if name is None:
            raise BlobNotFound(f"blob {digest} not in {key}")
        return Descriptor("application/octet-stream", digest, reader.members[name][1])

    def blob_get(self, ref: ImageRef, digest: Digest, size: int | None = None) -> VerifyingReader:
        reader = self._reader(ref)
        name = reader.blob_files.get(digest)
        if name is None:
            raise BlobNotFound(f"blob {digest} not in {reader.path}")
        offset, length = reader.members[name]
        return VerifyingReader(MemberSlice(reader.path, offset, length), digest, size)

    def blob_put(
        self,
        ref: ImageRef,
        content: bytes | Readable,
        *,
        digest: Digest | None = None,
        size: int | None = None,
        media_type: str = "application/octet-stream",
    ) -> Descriptor:
        writer = self._writer(ref)
        if isinstance(content, bytes | bytearray | memoryview):
            data = bytes(content)
            digest, size = verify_bytes(data, digest, size), len(data)
            content = io.BytesIO(data)
        if digest is None or size is None:
            raise Unsupported("archives need a blob's digest and size before it is written")
        if digest in writer.blobs:
            return Descriptor(media_type, digest, writer.blobs[digest])
        # A copy's source reader checks this digest and size itself: no second hash.
        source = VerifiedContent(content, digest, size)
        if self.kind == "oci-archive":
            try:
                writer.add(f"blobs/{digest.algorithm}/{digest.hex}", source, size)
                source.finish()
            except BaseException:
                writer.failed = True  # the tar stream holds a member that is not the blob
                raise
        elif mt.is_config(media_type):
            data = source.read()
            source.finish()
            writer.add_bytes(f"{digest.hex}.json", data)
        else:
            self._add_docker_layer(writer, source, digest, media_type)
        writer.blobs[digest] = size
        return Descriptor(media_type, digest, size)

    @staticmethod
    def _add_docker_layer(
        writer: ArchiveWriter, source: VerifiedContent, digest: Digest, media_type: str
    ) -> None:
        # docker save keeps layers uncompressed, each named by the sha256 of what it holds
        # (its diff_id); the tar header needs their size first.
        from hoist.layers.stream import LayerStream

        with tempfile.TemporaryFile(prefix="hoist-layer-") as spool:
            stream = LayerStream(source, media_type, name=str(digest))
            while chunk := stream.read(CHUNK):
                spool.write(chunk)
            diff_id = stream.finish()
            source.finish()  # the compressed bytes are the blob: checked before they are added
            size = spool.tell()
            spool.seek(0)
            name = f"{diff_id.hex}.tar"
            if name not in writer.layer_files.values():
                writer.add(name, spool, size)
            writer.layer_files[digest] = name

    def blob_delete(self, ref: ImageRef, digest: Digest) -> None:
        raise Unsupported("archives are written once; delete is not supported")

    def tag_list(self, ref: ImageRef) -> list[str]:
        reader = self._reader(ref)
        return sorted({d.ref_name for d in reader.index.manifests if d.ref_name})

    def tag_delete(self, ref: ImageRef) -> None:
        raise Unsupported("archives are written once; tag delete is not supported")

    def referrers_list(
        self, ref: ImageRef, *, artifact_type: str | None = None
    ) -> list[Descriptor]:
        reader = self._reader(ref)
        out = []
        for d in reader.index.manifests:
            if d.ref_name or ref.digest is None:
                continue
            m = parse_manifest(self._manifest_bytes(reader, d.digest), d.media_type)
            if (
                isinstance(m, ImageManifest | Index)
                and m.subject is not None
                and m.subject.digest == ref.digest
            ):
                desc = referrer_descriptor(m)
                if not artifact_type or desc.artifact_type == artifact_type:
                    out.append(desc)
        return out

    def close(self) -> None:
        """Complete every archive being written; release the ones being read."""
        with self._lock:
            writers, self._writers = self._writers, {}
            readers, self._readers = self._readers, {}
        for reader in readers.values():
            reader.close()
        errors = []
        for writer in writers.values():
            try:
                writer.finish()
            except Exception as exc:  # finish every other archive before reporting
                errors.append(exc)
        if errors:
            raise errors[0]

    def abort(self) -> None:
        """Drop every archive being written (an error happened): nothing is left behind."""
        with self._lock:
            writers, self._writers = self._writers, {}
        for writer in writers.values():
            writer.abort()


def open_archive(path: str, name: str | None = None) -> tuple[ArchiveStore, LayoutReference]:
    """A store and reference for the archive at ``path`` (docker or OCI, told by its content).

    ``name`` picks one image of several: a docker ``RepoTags`` entry (``app:v1``) or an OCI
    ``ref.name``; a digest (``sha256:...``) works for both.
    """
    from hoist.model.reference import LayoutReference

    try:
        with tarfile.open(path, "r:*") as tar:
            names = {n.removeprefix("./") for n in tar.getnames()}
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise InvalidManifest(f"{path}: {tar_problem(exc, path)}") from None
    if "oci-layout" in names:
        kind = "oci-archive"
    elif "manifest.json" in names:
        kind = "docker-archive"
    else:
        raise InvalidManifest(f"{path} is neither an OCI nor a docker archive")
    store = ArchiveStore(kind)
    ref = LayoutReference(kind, path, None)
    if name:
        if name.startswith(("sha256:", "sha512:")):
            ref = ref.by_digest(Digest.parse(name))
        else:
            ref = ref.by_digest(store.find(ref, name))
    return store, ref
