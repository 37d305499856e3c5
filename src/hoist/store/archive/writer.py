"""Writing a new image archive as content arrives: members appended, the index at the end.

:class:`ArchiveWriter` streams a tar member by member (to a temporary file renamed into place,
or to an output stream) and finishes it with ``index.json`` (OCI) or ``manifest.json`` (docker).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tarfile
import threading
import uuid
from pathlib import Path
from typing import IO

from hoist.errors import DigestMismatch, NotFound, Unsupported
from hoist.model.descriptor import ANNOTATION_REF_NAME
from hoist.model.digest import Digest, Readable
from hoist.model.manifest import ImageManifest, Index, Manifest
from hoist.store.referrers import referrer_descriptor

__all__ = ["LAYOUT_FILE", "ArchiveWriter"]

LAYOUT_FILE = b'{"imageLayoutVersion":"1.0.0"}'


class ArchiveWriter:
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
        self.layer_files: dict[Digest, str] = {}
        """docker-archive: each layer blob's member, named by its diff_id (``<hex>.tar``)."""
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
            if (
                digest not in tagged
                and isinstance(m, ImageManifest | Index)
                and m.subject is not None
            ):
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
                    "a docker-archive holds one platform's image, not an index: copy one "
                    "platform (hoist.export.archive_platform picks it as image export does)"
                )
            layers = [self.layer_files.get(d.digest, f"{d.digest.hex}.tar") for d in m.layers]
            entries.append(
                {"Config": f"{m.config.digest.hex}.json", "RepoTags": tags, "Layers": layers}
            )
            for tag in tags:
                name, _, t = tag.rpartition(":")
                if name and m.layers:
                    repositories.setdefault(name, {})[t] = layers[-1].removesuffix(".tar")
        self.add_bytes("manifest.json", json.dumps(entries, separators=(",", ":")).encode())
        self.add_bytes("repositories", json.dumps(repositories, separators=(",", ":")).encode())
