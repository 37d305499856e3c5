"""Image archives as stores: ``oci-archive://FILE[:tag]`` and ``docker-archive://FILE[:tag]``.

An existing archive is read-only: blobs are read straight from their offsets in the tar, so
reads are thread-safe and need no extraction. A new archive is written as content arrives
(blobs become tar members at once) and is completed by :meth:`close`, which adds the index
(``index.json`` or ``manifest.json``) and renames the file into place.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import tarfile
import tempfile
import threading
import uuid
import zlib
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from hoist.errors import (
    BlobNotFound,
    DigestMismatch,
    InvalidManifest,
    ManifestNotFound,
    NotFound,
    Unsupported,
)
from hoist.model import mediatype as mt
from hoist.model.descriptor import ANNOTATION_REF_NAME, Descriptor
from hoist.model.digest import CHUNK, Digest, Readable, VerifyingReader, digest_of
from hoist.model.manifest import ImageManifest, Index, Manifest, parse_manifest
from hoist.store.referrers import referrer_descriptor
from hoist.store.verified import self_verifying

if TYPE_CHECKING:
    from hoist.model.reference import LayoutReference, Reference

    Ref = Reference | LayoutReference

__all__ = ["ArchiveStore"]

LAYOUT_FILE = b'{"imageLayoutVersion":"1.0.0"}'


class _Slice:
    """Reads ``size`` bytes at ``offset`` of a file through its own handle."""

    def __init__(self, path: str, offset: int, size: int) -> None:
        self._f = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._f.seek(offset)
        self._left = size

    def read(self, n: int = -1, /) -> bytes:
        if self._left <= 0:
            return b""
        n = self._left if n is None or n < 0 else min(n, self._left)
        data = self._f.read(n)
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._f.close()


class _Reader:
    """An existing archive, indexed once: member name -> (offset, size)."""

    def __init__(self, path: Path, kind: str, max_bytes: int) -> None:
        self.kind = kind
        self._tmp: str | None = None
        source = str(path)
        with open(path, "rb") as f:
            compressed = f.read(2) == b"\x1f\x8b"
        self.path = source
        self.members: dict[str, tuple[int, int]] = {}
        self.manifests: dict[Digest, bytes] = {}
        self.index: Index
        self.blob_files: dict[Digest, str] = {}
        try:
            if compressed:  # tar.gz: decompress once so members can be read at their offsets
                self.path = self._gunzip(path, max_bytes)
            with tarfile.open(self.path, "r:") as tar:
                for info in tar:
                    if info.isfile():
                        name = info.name.removeprefix("./")
                        self.members[name] = (info.offset_data, info.size)
            if kind == "oci-archive":
                self._load_oci(path)
            else:
                self._load_docker(path)
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            self.close()
            raise InvalidManifest(f"{path}: not a readable tar archive: {exc}") from None
        except BaseException:
            self.close()
            raise

    def _gunzip(self, path: Path, max_bytes: int) -> str:
        fd, self._tmp = tempfile.mkstemp(prefix="hoist-archive-", suffix=".tar")
        written = 0
        with os.fdopen(fd, "wb") as out, gzip.open(path, "rb") as gz:
            while chunk := gz.read(CHUNK):
                written += len(chunk)
                if written > max_bytes:
                    raise InvalidManifest(
                        f"{path}: decompresses to more than {max_bytes} bytes; refused"
                    )
                out.write(chunk)
        return self._tmp

    def read_member(self, name: str, limit: int = 64 << 20) -> bytes:
        if name not in self.members:
            raise InvalidManifest(f"{name} is not in the archive")
        offset, size = self.members[name]
        if size > limit:
            raise InvalidManifest(f"{name} in the archive is too large ({size} bytes)")
        reader = _Slice(self.path, offset, size)
        try:
            return reader.read()
        finally:
            reader.close()

    def _load_oci(self, path: Path) -> None:
        if "oci-layout" not in self.members or "index.json" not in self.members:
            raise NotFound(f"{path} is not an oci-archive (no oci-layout or index.json)")
        index = parse_manifest(self.read_member("index.json"), mt.OCI_INDEX)
        if not isinstance(index, Index):
            raise InvalidManifest(f"{path}: index.json is not an index")
        self.index = index
        for name in self.members:
            parts = name.split("/")
            if len(parts) == 3 and parts[0] == "blobs":
                with contextlib.suppress(ValueError):
                    self.blob_files[Digest(parts[1], parts[2])] = name

    def _load_docker(self, path: Path) -> None:
        if "manifest.json" not in self.members:
            raise NotFound(f"{path} is not a docker-archive (no manifest.json)")
        try:
            entries = json.loads(self.read_member("manifest.json"))
            assert isinstance(entries, list)
        except (ValueError, AssertionError):
            raise InvalidManifest(f"{path}: manifest.json is not a list") from None
        descs = []
        for i, entry in enumerate(entries):
            manifest = self._docker_manifest(path, entry, i)
            self.manifests[manifest.digest] = manifest.raw
            tags = [str(t) for t in entry.get("RepoTags") or []] or [""]
            for tag in tags:
                annotations = {ANNOTATION_REF_NAME: tag} if tag else {}
                descs.append(manifest.descriptor(annotations=annotations))
        self.index = Index.build(descs)

    def _docker_manifest(self, path: Path, entry: Any, i: int) -> ImageManifest:
        try:
            config_name = str(entry["Config"])
            layer_names = [str(x) for x in entry["Layers"]]
        except (KeyError, TypeError):
            raise InvalidManifest(f"{path}: manifest.json entry {i} lacks Config/Layers") from None
        config_raw = self.read_member(config_name)
        config = Descriptor.of(mt.DOCKER_CONFIG, config_raw)
        self.blob_files[config.digest] = config_name
        layers = []
        for name in layer_names:
            if name not in self.members:
                raise InvalidManifest(f"{path}: layer {name} is missing")
            digest, head = self._hash_member(name)
            compressed = head.startswith(b"\x1f\x8b")
            media_type = (
                mt.DOCKER_LAYER if compressed else "application/vnd.docker.image.rootfs.diff.tar"
            )
            layers.append(Descriptor(media_type, digest, self.members[name][1]))
            self.blob_files[digest] = name
        return ImageManifest.build(config, layers, media_type=mt.DOCKER_MANIFEST)

    def _hash_member(self, name: str) -> tuple[Digest, bytes]:
        offset, size = self.members[name]
        reader = _Slice(self.path, offset, size)
        h = hashlib.sha256()
        head = b""
        try:
            while chunk := reader.read(CHUNK):
                if not head:
                    head = chunk[:4]
                h.update(chunk)
        finally:
            reader.close()
        return Digest("sha256", h.hexdigest()), head

    def close(self) -> None:
        if self._tmp:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._tmp)
            self._tmp = None


class _Writer:
    """A new archive being written: members appended as they come, index at close."""

    def __init__(self, path: Path, kind: str, output: IO[bytes] | None = None) -> None:
        self.kind = kind
        self.target = path
        self.failed = False
        self._stdout = output is not None
        if output is not None:
            self._file: IO[bytes] = output
            self._tmp = None
        else:
            if not path.parent.is_dir():
                raise NotFound(f"{path.parent} is not a directory")
            self._tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
            self._file = open(self._tmp, "wb")  # noqa: SIM115 - closed by close()
        self._tar = tarfile.open(  # noqa: SIM115 - closed by finish()
            fileobj=self._file, mode="w|", format=tarfile.PAX_FORMAT
        )
        self._lock = threading.Lock()
        self.blobs: dict[Digest, int] = {}
        self.manifests: dict[Digest, Manifest] = {}
        self.tags: dict[str, Digest] = {}
        self.untagged: list[Digest] = []
        self.image_name = "localhost/" + (
            "".join(c for c in path.name.split(".")[0].lower() if c.isalnum() or c in "-_")
            or "image"
        )
        """The repository name docker-archive RepoTags get (``docker load`` needs one)."""

    def add(self, name: str, content: Readable, size: int) -> None:
        info = tarfile.TarInfo(name)
        info.size = size
        info.mode = 0o644
        try:
            with self._lock:
                self._tar.addfile(info, content)
            if content.read(1):
                raise DigestMismatch(f"{name}: more than the expected {size} bytes")
        except BaseException:
            self.failed = True  # the tar stream holds a partial member now
            raise

    def add_bytes(self, name: str, data: bytes) -> None:
        self.add(name, io.BytesIO(data), len(data))

    def finish(self) -> None:
        """Write the index and move the archive into place; on any error, drop it."""
        if self.failed:
            self.abort()
            raise Unsupported(f"{self.target}: an earlier write failed; the archive was dropped")
        try:
            if self.kind == "oci-archive":
                self._finish_oci()
            else:
                self._finish_docker()
            self._tar.close()
            if not self._stdout:
                self._file.flush()
                os.fsync(self._file.fileno())
                self._file.close()
                assert self._tmp is not None
                os.replace(self._tmp, self.target)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._tar.close()
        if not self._stdout:
            self._file.close()
            if self._tmp is not None:
                with contextlib.suppress(FileNotFoundError):
                    self._tmp.unlink()

    def _finish_oci(self) -> None:
        entries = []
        for tag, digest in self.tags.items():
            entries.append(
                self.manifests[digest].descriptor(annotations={ANNOTATION_REF_NAME: tag})
            )
        tagged = set(self.tags.values())
        for digest in self.untagged:
            m = self.manifests[digest]
            if digest not in tagged and getattr(m, "subject", None) is not None:
                assert isinstance(m, ImageManifest | Index)
                entries.append(referrer_descriptor(m))
        self.add_bytes("oci-layout", LAYOUT_FILE)
        self.add_bytes("index.json", Index.build(entries).raw)

    def _finish_docker(self) -> None:
        images: dict[Digest, list[str]] = {}
        for tag, digest in self.tags.items():
            images.setdefault(digest, []).append(tag)
        if not images:
            raise Unsupported("nothing tagged to write into the docker-archive")
        entries = []
        repositories: dict[str, dict[str, str]] = {}
        for digest, tags in images.items():
            m = self.manifests[digest]
            if not isinstance(m, ImageManifest):
                raise Unsupported(
                    "a docker-archive holds single-platform images: pick one with --platform"
                )
            layers = [f"{d.digest.hex}.tar" for d in m.layers]
            entries.append(
                {"Config": f"{m.config.digest.hex}.json", "RepoTags": tags, "Layers": layers}
            )
            for tag in tags:
                name, _, t = tag.rpartition(":")
                if name and m.layers:
                    repositories.setdefault(name, {})[t] = m.layers[-1].digest.hex
        self.add_bytes("manifest.json", json.dumps(entries, separators=(",", ":")).encode())
        self.add_bytes("repositories", json.dumps(repositories, separators=(",", ":")).encode())


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
        self._readers: dict[str, _Reader] = {}
        self._writers: dict[str, _Writer] = {}
        self._lock = threading.Lock()

    # -- opening ---------------------------------------------------------------------------

    def _key(self, ref: Ref) -> str:
        path = getattr(ref, "path", None)
        if path is None:
            raise Unsupported(f"{ref} is not an archive reference")
        return str(path)

    def _reader(self, ref: Ref) -> _Reader:
        key = self._key(ref)
        with self._lock:
            if key in self._writers:
                raise Unsupported(f"{key} is being written; it can be read once complete")
            reader = self._readers.get(key)
            if reader is None:
                path = Path(key)
                if not path.is_file():
                    raise ManifestNotFound(f"archive {key} not found")
                reader = self._readers[key] = _Reader(path, self.kind, self.max_bytes)
        return reader

    def name_images(self, ref: Ref, name: str) -> None:
        """Name what is written to ``ref``'s docker-archive (``RepoTags`` = NAME:TAG)."""
        self._writer(ref).image_name = name

    def _writer(self, ref: Ref) -> _Writer:
        key = self._key(ref)
        with self._lock:
            writer = self._writers.get(key)
            if writer is None:
                if key in self._readers:
                    raise Unsupported(f"{key} is open for reading; archives are not updated")
                if key == "-" and self.output is None:
                    raise Unsupported("writing an archive to - needs an output stream")
                output = self.output if key == "-" else None
                writer = self._writers[key] = _Writer(Path(key), self.kind, output)
        return writer

    def _resolve(self, ref: Ref) -> Descriptor:
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

    def find(self, ref: Ref, name: str) -> Digest:
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
    def _manifest_bytes(reader: _Reader, digest: Digest) -> bytes:
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

    def manifest_head(self, ref: Ref) -> Descriptor:
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

    def manifest_get(self, ref: Ref) -> Manifest:
        reader = self._reader(ref)
        d = self._resolve(ref)
        return parse_manifest(self._manifest_bytes(reader, d.digest), d.media_type)

    def manifest_put(self, ref: Ref, manifest: Manifest) -> Descriptor:
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

    def manifest_delete(self, ref: Ref) -> None:
        raise Unsupported("archives are written once; delete is not supported")

    def blob_head(self, ref: Ref, digest: Digest) -> Descriptor:
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

    def blob_get(self, ref: Ref, digest: Digest, size: int | None = None) -> VerifyingReader:
        reader = self._reader(ref)
        name = reader.blob_files.get(digest)
        if name is None:
            raise BlobNotFound(f"blob {digest} not in {reader.path}")
        offset, length = reader.members[name]
        return VerifyingReader(_Slice(reader.path, offset, length), digest, size)

    def blob_put(
        self,
        ref: Ref,
        content: bytes | Readable,
        *,
        digest: Digest | None = None,
        size: int | None = None,
        media_type: str = "application/octet-stream",
    ) -> Descriptor:
        writer = self._writer(ref)
        if isinstance(content, bytes | bytearray | memoryview):
            data = bytes(content)
            actual = digest_of(data, digest.algorithm if digest else "sha256")
            if digest is not None and actual != digest:
                raise DigestMismatch(f"digest mismatch: expected {digest}, got {actual}")
            digest, size, content = actual, len(data), io.BytesIO(data)
        if digest is None or size is None:
            raise Unsupported("archives need a blob's digest and size before it is written")
        if digest in writer.blobs:
            return Descriptor(media_type, digest, writer.blobs[digest])
        # A copy's source reader checks this digest and size itself: no second hash.
        source: Readable = (
            content
            if self_verifying(content, digest, size) is not None
            else VerifyingReader(content, digest, size)
        )
        if self.kind == "oci-archive":
            writer.add(f"blobs/{digest.algorithm}/{digest.hex}", source, size)
        elif mt.is_config(media_type):
            writer.add_bytes(f"{digest.hex}.json", source.read())
        else:
            self._add_docker_layer(writer, source, digest, media_type)
        writer.blobs[digest] = size
        return Descriptor(media_type, digest, size)

    @staticmethod
    def _add_docker_layer(
        writer: _Writer, source: Readable, digest: Digest, media_type: str
    ) -> None:
        # docker save keeps layers uncompressed; the tar header needs their size first.
        from hoist.layers.stream import LayerStream

        with tempfile.TemporaryFile(prefix="hoist-layer-") as spool:
            stream = LayerStream(source, media_type, name=str(digest))
            while chunk := stream.read(CHUNK):
                spool.write(chunk)
            stream.finish()
            size = spool.tell()
            spool.seek(0)
            writer.add(f"{digest.hex}.tar", spool, size)

    def blob_delete(self, ref: Ref, digest: Digest) -> None:
        raise Unsupported("archives are written once; delete is not supported")

    def tag_list(self, ref: Ref) -> list[str]:
        reader = self._reader(ref)
        return sorted({d.ref_name for d in reader.index.manifests if d.ref_name})

    def tag_delete(self, ref: Ref) -> None:
        raise Unsupported("archives are written once; tag delete is not supported")

    def referrers_list(self, ref: Ref, *, artifact_type: str | None = None) -> list[Descriptor]:
        reader = self._reader(ref)
        out = []
        for d in reader.index.manifests:
            if d.ref_name or ref.digest is None:
                continue
            m = parse_manifest(self._manifest_bytes(reader, d.digest), d.media_type)
            subject = getattr(m, "subject", None)
            if (
                subject is not None
                and subject.digest == ref.digest
                and isinstance(m, ImageManifest | Index)
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
    except (tarfile.TarError, OSError) as exc:
        raise InvalidManifest(f"{path}: not a readable tar archive: {exc}") from None
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
