"""Reading an existing image archive in place: the tar indexed once, members read at their offsets.

:class:`ArchiveReader` indexes an ``oci-archive`` or ``docker-archive`` (member name to offset
and size), so members are read through a :class:`MemberSlice` without extraction, and
synthesises the manifests a docker archive only implies.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import tarfile
import tempfile
import zlib
from pathlib import Path
from typing import Any

from hoist.errors import InvalidManifest, NotFound
from hoist.model import mediatype as mt
from hoist.model.descriptor import ANNOTATION_REF_NAME, Descriptor
from hoist.model.digest import CHUNK, Digest
from hoist.model.jsonvalue import parse_json
from hoist.model.manifest import MAX_INDEX_JSON_SIZE, ImageManifest, Index, parse_manifest

__all__ = ["MAX_MANIFEST_JSON_SIZE", "ArchiveReader", "MemberSlice", "tar_problem"]

MAX_MANIFEST_JSON_SIZE = 64 * 1024 * 1024
"""A docker archive's ``manifest.json`` (one entry per image and tag) is refused past this."""


_MAGIC = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"))


def tar_problem(exc: BaseException, path: str | os.PathLike[str]) -> str:
    """One line saying why the file at ``path`` could not be read as a tar archive (tarfile's
    own message for a file that is none spans five lines)."""
    if isinstance(exc, OSError) and not isinstance(exc, tarfile.TarError) and exc.strerror:
        return f"cannot read it: {exc.strerror[0].lower()}{exc.strerror[1:]}"
    try:
        with open(path, "rb") as f:
            head = f.read(6)
    except OSError:
        head = b""
    kind = next((name for magic, name in _MAGIC if head.startswith(magic)), None)
    if kind is not None:
        return f"corrupt or truncated {kind} compressed tar archive"
    if isinstance(exc, tarfile.ReadError) and "could not be opened" in str(exc):
        return "not a tar archive (nor a gzip, bzip2 or xz compressed one)"
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"not a readable tar archive: {text}"


class MemberSlice:
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


class ArchiveReader:
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
            raise InvalidManifest(f"{path}: {tar_problem(exc, path)}") from None
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
        reader = MemberSlice(self.path, offset, size)
        try:
            return reader.read()
        finally:
            reader.close()

    def _load_oci(self, path: Path) -> None:
        if "oci-layout" not in self.members or "index.json" not in self.members:
            raise NotFound(f"{path} is not an oci-archive (no oci-layout or index.json)")
        raw = self.read_member("index.json", MAX_INDEX_JSON_SIZE)
        try:
            index = parse_manifest(raw, mt.OCI_INDEX, max_size=MAX_INDEX_JSON_SIZE)
        except InvalidManifest as exc:
            raise InvalidManifest(f"{path}: index.json: {exc}") from None
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
        entries = parse_json(
            self.read_member("manifest.json", MAX_MANIFEST_JSON_SIZE),
            what=f"{path}: manifest.json",
            error=InvalidManifest,
        )
        if not isinstance(entries, list):
            raise InvalidManifest(f"{path}: manifest.json is not a list")
        descs = []
        for i, entry in enumerate(entries):
            manifest = self._docker_manifest(path, entry, i)
            self.manifests[manifest.digest] = manifest.raw
            repo_tags = entry.get("RepoTags") or []
            if not isinstance(repo_tags, list) or not all(isinstance(t, str) for t in repo_tags):
                raise InvalidManifest(f"{path}: manifest.json entry {i}: RepoTags is not a list")
            tags = list(repo_tags) or [""]
            for tag in tags:
                annotations = {ANNOTATION_REF_NAME: tag} if tag else {}
                descs.append(manifest.descriptor(annotations=annotations))
        self.index = Index.build(descs)

    def _docker_manifest(self, path: Path, entry: Any, i: int) -> ImageManifest:
        config_name = entry.get("Config") if isinstance(entry, dict) else None
        layer_names = entry.get("Layers") if isinstance(entry, dict) else None
        if (
            not isinstance(config_name, str)
            or not isinstance(layer_names, list)
            or not all(isinstance(x, str) for x in layer_names)
        ):
            raise InvalidManifest(f"{path}: manifest.json entry {i} lacks Config/Layers")
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
        reader = MemberSlice(self.path, offset, size)
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
