"""An image's filesystem as one tar stream (``image export --rootfs``, as ``crane export``).

The tar holds what unpacking the image gives: every layer applied in turn, whiteouts and
opaque directories applied and gone, paths resolved through the image's own symlinks, hard
links kept. It is written as it is made, to a pipe as well as a file, with bounded memory::

    with open("rootfs.tar", "wb") as out:
        result = image_rootfs(client.image("ocidir://oci:app"), out)
    print(result.stats.files, result.size)

Each layer is read twice: once for its listing (headers only: what the image's filesystem
holds), then for the bytes of the files that survive, bottom layer first. From a registry,
the first read keeps the blob in a temporary file (:class:`LayerPasses`), so nothing is
downloaded twice; layouts and archives are simply read again. Every layer's digest is
verified on the first read and its diff_id checked against the config.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from hoist.errors import DigestMismatch
from hoist.files import check_diff_id, open_layer
from hoist.layers.entries import LayerListing, list_layer
from hoist.layers.squash import SquashStats, merged_plan, write_plan
from hoist.layers.stream import DEFAULT_MAX_BYTES

if TYPE_CHECKING:
    from hoist.image import Image
    from hoist.layers.stream import LayerStream
    from hoist.model.digest import Digest, Readable

__all__ = ["LayerPasses", "RootfsExport", "image_rootfs"]


class _Tee:
    """Reads ``source`` and keeps a copy of every byte in ``copy``."""

    def __init__(self, source: Readable, copy: IO[bytes]) -> None:
        self._source = source
        self._copy = copy

    def read(self, size: int = -1, /) -> bytes:
        data = self._source.read(size)
        if data:
            self._copy.write(data)
        return data

    def close(self) -> None:
        try:
            close = getattr(self._source, "close", None)
            if close is not None:
                close()
        finally:
            self._copy.close()


class LayerPasses:
    """Layers of ``image`` read twice, fetched once: :meth:`listings` reads each (its digest
    verified, its diff_id checked against the config), then :meth:`open` streams it again.

    With ``spool`` (default: when the image is on a registry) the first read keeps each blob
    in a temporary directory, removed when the context ends; otherwise the store is read
    again. ``indexes`` picks layers (default: all).
    """

    def __init__(
        self,
        image: Image,
        indexes: Sequence[int] | None = None,
        *,
        max_bytes: int | None = DEFAULT_MAX_BYTES,
        spool: bool | None = None,
        workdir: str | Path | None = None,
    ) -> None:
        self.image = image
        self.indexes = tuple(range(len(image.layers)) if indexes is None else indexes)
        self.max_bytes = max_bytes
        self.spool = image.location.is_registry if spool is None else spool
        self._workdir = workdir
        self._tmp: Path | None = None
        self._listings: dict[int, LayerListing] = {}

    def __enter__(self) -> LayerPasses:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Remove the spooled blobs."""
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def _spooled(self, index: int) -> Path:
        if self._tmp is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="hoist-layers-", dir=self._workdir))
        return self._tmp / f"layer-{index}"

    def _stream(self, index: int, blob: Readable) -> LayerStream:
        return open_layer(self.image, index, max_bytes=self.max_bytes, blob=blob)

    def listing(self, index: int) -> LayerListing:
        """The listing of layer ``index`` (read once, spooled when asked)."""
        found = self._listings.get(index)
        if found is not None:
            return found
        desc = self.image.layers[index]
        blob: Readable = self.image.layer_reader(index)
        if self.spool:
            blob = _Tee(blob, open(self._spooled(index), "wb"))  # noqa: SIM115 - closed by _Tee
        with self._stream(index, blob) as stream:
            listing = list_layer(stream, layer=index, digest=desc.digest)
        check_diff_id(index, desc, listing.diff_id, self.image.config.diff_ids)
        self._listings[index] = listing
        return listing

    def listings(self) -> list[LayerListing]:
        """The listings of the chosen layers, bottom first."""
        return [self.listing(i) for i in self.indexes]

    def open(self, index: int) -> LayerStream:
        """Layer ``index`` again, decompressing as it streams (a context manager); from the
        spooled copy when there is one."""
        if self.spool and index in self._listings:
            return self._stream(index, open(self._spooled(index), "rb"))
        return self._stream(index, self.image.layer_reader(index))

    def check(self, diff_ids: dict[int, Digest]) -> None:
        """DigestMismatch when a second read gave another diff_id than the first."""
        for index, diff_id in diff_ids.items():
            first = self._listings.get(index)
            if first is not None and first.diff_id != diff_id:
                raise DigestMismatch(
                    f"layer {index}: read again, its uncompressed digest {diff_id} differs from "
                    f"the first read's {first.diff_id}",
                    expected=str(first.diff_id),
                    actual=str(diff_id),
                )


class _Counter:
    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.size = 0

    def write(self, data: Any) -> int:
        n = self.target.write(data)
        self.size += len(data)
        return n

    def flush(self) -> None:
        self.target.flush()


@dataclass(frozen=True)
class RootfsExport:
    """What :func:`image_rootfs` wrote."""

    location: str
    digest: Digest
    """The platform manifest's digest."""
    platform: str
    layers: int
    size: int
    """Bytes of tar written."""
    stats: SquashStats

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": self.location,
            "digest": str(self.digest),
            "platform": self.platform,
            "layers": self.layers,
            "size": self.size,
            **self.stats.to_dict(),
        }


def image_rootfs(
    image: Image,
    out: IO[bytes],
    *,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    spool: bool | None = None,
) -> RootfsExport:
    """Write the filesystem of ``image`` to ``out`` as one tar (see the module's docstring).

    ``out`` is only written to, never seeked. Raises DigestMismatch for a layer whose digest
    or diff_id is wrong (on the first read, before any byte is written), InvalidLayer or
    UnsafeLayer for layers that cannot be applied, LayerTooLarge past ``max_bytes``.
    """
    counter = _Counter(out)
    with LayerPasses(image, max_bytes=max_bytes, spool=spool) as passes:
        plan = merged_plan(passes.listings())
        stats = write_plan(plan, passes.open, counter)  # type: ignore[arg-type]
        passes.check(stats.diff_ids)
    counter.flush()
    return RootfsExport(
        str(image.location),
        image.manifest.digest,
        str(image.config.platform),
        len(image.layers),
        counter.size,
        stats,
    )
