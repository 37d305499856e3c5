"""``image flatten``: squash an image's layers into one, all of them or only the top ones.

Three ways, per platform image:

- every layer (as ``crane flatten``): one layer holding the image's filesystem, whiteouts
  applied and gone;
- above a base (``keep_base``): the base's layers stay as they are (same digests, so they
  are still shared and the image still checks as built on that base), the layers above
  become one;
- the last ``last`` layers: the same, with the split counted from the top.

A partial squash keeps what the squashed layers delete from the layers below as whiteouts
(and a directory deleted and made again as an opaque one), so the result unpacks to the same
files; see :mod:`hoist.layers.squash`. The config keeps every field but ``rootfs`` and
``history``: the diff_ids follow the layers, and the history steps of the squashed layers
become one step whose ``comment`` holds them as JSON (as crane does), so nothing is lost.
Its ``created`` is the image's own, so flattening the same image twice gives the same digest.

::

    from hoist.authoring.flatten import FlattenOptions, image_flatten

    result = image_flatten(client.at("ocidir://oci:app"), client.at("ocidir://oci:app-flat"),
                           FlattenOptions(keep_base=client.at("ocidir://oci:base")))
    print(result.descriptor.digest, [i.to_dict() for i in result.images])
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hoist.authoring.commit import write_index, write_manifest
from hoist.authoring.draft import Draft, DraftLayer
from hoist.errors import HoistError, InvalidInput, Unsupported
from hoist.layers.squash import SquashStats, diff_plan, merged_plan, write_plan
from hoist.layers.stream import DEFAULT_MAX_BYTES
from hoist.layers.tarball import COMPRESSIONS, LayerWriter, NewLayer
from hoist.model import mediatype as mt
from hoist.model.base_image import ANNOTATION_BASE_DIGEST, ANNOTATION_BASE_NAME, RecordedBase
from hoist.model.descriptor import Descriptor
from hoist.model.digest import digest_of
from hoist.model.manifest import ImageManifest, Index
from hoist.model.platform import Platform, as_platform

if TYPE_CHECKING:
    from hoist.image import Image
    from hoist.location import Location
    from hoist.model.digest import Digest
    from hoist.model.platform import PlatformLike

__all__ = ["FlattenOptions", "FlattenResult", "FlattenedImage", "image_flatten"]

log = logging.getLogger(__name__)

_BASE_KEYS = (ANNOTATION_BASE_NAME, ANNOTATION_BASE_DIGEST)


@dataclass(frozen=True)
class FlattenOptions:
    """How to flatten: every layer by default; ``keep_base`` or ``last`` (not both) squash
    only the layers above a base, or the top ``last`` ones."""

    keep_base: Location | None = None
    """Keep this image's layers (they must be the first layers of each platform image)."""
    last: int | None = None
    """Squash only the top ``last`` layers (all when the image has fewer)."""
    platform: PlatformLike | None = None
    """Flatten only this platform of an index (the others are kept as they are)."""
    compression: str = "gzip"
    """Of the new layer: gzip, zstd or none."""
    max_bytes: int | None = DEFAULT_MAX_BYTES
    """Refuse a layer that decompresses to more than this (a bomb)."""

    def __post_init__(self) -> None:
        if self.keep_base is not None and self.last is not None:
            raise InvalidInput("keep_base and last are exclusive: one way to choose the layers")
        if self.last is not None and (isinstance(self.last, bool) or self.last < 1):
            raise InvalidInput(f"last wants a number of layers above 0, not {self.last!r}")
        if self.compression not in COMPRESSIONS:
            raise InvalidInput(
                f"unknown compression {self.compression!r}: {', '.join(COMPRESSIONS)}"
            )
        if self.platform is not None:
            object.__setattr__(self, "platform", as_platform(self.platform))


@dataclass(frozen=True)
class FlattenedImage:
    """One platform image flattened."""

    platform: str
    source: Digest
    """The manifest flattened."""
    digest: Digest
    """The manifest written."""
    layers_before: int
    kept: int
    """Layers left as they were (the base's, or those below the last N)."""
    squashed: int
    """Layers squashed into the new one (0 when there was nothing to squash)."""
    layer: Descriptor | None
    """The new layer; None when the image was written unchanged."""
    diff_id: Digest | None
    stats: SquashStats | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "source": str(self.source),
            "digest": str(self.digest),
            "layers_before": self.layers_before,
            "layers_after": self.kept + (1 if self.layer is not None else self.squashed),
            "kept": self.kept,
            "squashed": self.squashed,
            "layer": self.layer.to_dict() if self.layer is not None else None,
            "diff_id": str(self.diff_id) if self.diff_id else None,
            "entries": self.stats.to_dict() if self.stats is not None else None,
        }


@dataclass(frozen=True)
class FlattenResult:
    """What :func:`image_flatten` wrote: the top descriptor and each platform image."""

    target: str
    descriptor: Descriptor
    images: tuple[FlattenedImage, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            **self.descriptor.to_dict(),
            "images": [i.to_dict() for i in self.images],
        }


def image_flatten(
    src: Location, dst: Location, options: FlattenOptions | None = None
) -> FlattenResult:
    """Flatten ``src`` (every platform of an index unless ``options.platform``) into ``dst``.

    Raises InvalidInput when ``keep_base`` is not the base of a platform image (its layers
    are not the first ones, by diff_id), and the store's and layers' errors (DigestMismatch,
    InvalidLayer...) while reading.
    """
    run = _Flatten(src, dst, options or FlattenOptions())
    try:
        return run.run()
    finally:
        for layer in run.made:
            layer.discard()


class _Flatten:
    def __init__(self, src: Location, dst: Location, options: FlattenOptions) -> None:
        self.src, self.dst, self.options = src, dst, options
        self.made: list[NewLayer] = []
        self.images: list[FlattenedImage] = []
        self.sources = [src] + ([options.keep_base] if options.keep_base is not None else [])
        self.dropped_base = False
        """Some platform image no longer records its base (its layers were squashed)."""

    def run(self) -> FlattenResult:
        top = self.src.manifest_get()
        if isinstance(top, ImageManifest):
            desc = self.one(top, None, tag=True)
            return FlattenResult(str(self.dst), desc, tuple(self.images))
        if not isinstance(top, Index):
            raise Unsupported(f"cannot flatten {top.media_type} manifests")
        wanted = self.options.platform
        assert wanted is None or isinstance(wanted, Platform)
        entries = []
        for desc in top.manifests:
            chosen = wanted is None or (desc.platform and wanted.matches(desc.platform))
            child = self.src.by_digest(desc.digest).manifest_get() if chosen else None
            if not isinstance(child, ImageManifest) or not mt.is_config(child.config.media_type):
                entries.append(desc)  # other platforms, attestations, artifacts: as they are
                continue
            new = self.one(child, desc.platform, tag=False)
            entries.append(new.replace(platform=desc.platform, annotations=desc.annotations))
        annotations = dict(top.annotations)
        keep_base = self.options.keep_base
        if keep_base is not None:
            recorded = RecordedBase(str(keep_base), keep_base.manifest_head().digest)
            annotations.update(recorded.annotations())
        elif self.dropped_base:
            for key in _BASE_KEYS:
                annotations.pop(key, None)
        index = Index.build(
            entries, media_type=top.media_type, annotations=annotations, subject=top.subject
        )
        return FlattenResult(str(self.dst), write_index(self.dst, index), tuple(self.images))

    # -- one platform image ----------------------------------------------------------------

    def one(self, manifest: ImageManifest, platform: Platform | None, *, tag: bool) -> Descriptor:
        from hoist.image import Image

        image = Image(self.src.by_digest(manifest.digest))
        draft = Draft.revise(manifest, image.config_bytes, self.src)
        count = len(draft.layers)
        keep = self.split(image, draft)
        shown = str(platform or image.config.platform)
        if count - keep < 2:  # nothing to squash: the image as it is
            desc = write_manifest(self.dst, manifest, sources=self.sources, tag=tag)
            self.images.append(
                FlattenedImage(shown, manifest.digest, desc.digest, count, count, 0, None, None)
            )
            return desc
        layer, stats = self.squash(image, keep, docker=mt.is_docker(manifest.media_type))
        self.rewrite_history(draft, keep, manifest.digest, count - keep)
        draft.layers[keep:] = [DraftLayer(layer.descriptor, layer.diff_id, new=layer)]
        self.record_base(image, draft, keep)
        desc = self.write(draft, manifest, tag=tag)
        self.images.append(
            FlattenedImage(
                shown,
                manifest.digest,
                desc.digest,
                count,
                keep,
                count - keep,
                layer.descriptor,
                layer.diff_id,
                stats,
            )
        )
        return desc

    def split(self, image: Image, draft: Draft) -> int:
        """How many layers stay as they are."""
        count = len(draft.layers)
        if self.options.last is not None:
            return max(0, count - self.options.last)
        if self.options.keep_base is None:
            return 0
        from hoist.image import Image

        base = Image(self.options.keep_base, platform=image.config.platform)
        ours = [x.diff_id for x in draft.layers]
        theirs = list(base.config.diff_ids)
        if len(theirs) != len(base.layers) or ours[: len(theirs)] != theirs:
            raise InvalidInput(
                f"{self.options.keep_base} is not the base of {image.location} "
                f"({image.config.platform}): its {len(theirs)} layers are not the image's first"
            )
        return len(theirs)

    def squash(self, image: Image, keep: int, *, docker: bool) -> tuple[NewLayer, SquashStats]:
        from hoist.rootfs import LayerPasses

        indexes = range(keep, len(image.layers))
        with (
            LayerPasses(image, indexes, max_bytes=self.options.max_bytes) as passes,
            LayerWriter(self.options.compression, docker=docker) as writer,
        ):
            listings = passes.listings()
            plan = merged_plan(listings) if keep == 0 else diff_plan(listings)
            stats = write_plan(plan, passes.open, writer)  # type: ignore[arg-type]
            passes.check(stats.diff_ids)
            layer = writer.finish(entries=stats.entries)
        self.made.append(layer)
        return layer, stats

    def rewrite_history(self, draft: Draft, keep: int, source: Digest, squashed: int) -> None:
        """The steps that made the squashed layers (and the config-only steps among and after
        them) become one step; its comment keeps them as JSON."""
        steps = draft.layer_steps()
        first = steps[keep] if keep < len(steps) and steps[keep] >= 0 else len(draft.history)
        replaced = draft.history[first:]
        created = str(draft.document.get("created") or "")
        if not created:
            created = next((str(h["created"]) for h in reversed(replaced) if h.get("created")), "")
        step: dict[str, Any] = {}
        if created:
            step["created"] = created
        step["created_by"] = f"hoist image flatten {source} ({squashed} layers)"
        step["comment"] = json.dumps(replaced, separators=(",", ":"), ensure_ascii=False)
        draft.history[first:] = [step]

    def record_base(self, image: Image, draft: Draft, keep: int) -> None:
        """Keep the base annotations true: ``keep_base`` is the base; otherwise the recorded
        base stays only when its layers are still all there, unchanged."""
        keep_base = self.options.keep_base
        if keep_base is not None:
            from hoist.image import Image

            base = Image(keep_base, platform=image.config.platform)
            draft.annotations.update(
                RecordedBase(str(keep_base), base.manifest.digest).annotations()
            )
            return
        recorded = RecordedBase.from_annotations(draft.annotations)
        if recorded is None:
            return
        if keep == 0 or not self._recorded_base_kept(image, recorded, keep):
            for key in _BASE_KEYS:
                draft.annotations.pop(key, None)
            self.dropped_base = True

    def _recorded_base_kept(self, image: Image, recorded: RecordedBase, keep: int) -> bool:
        from hoist.image import Image
        from hoist.location import Location
        from hoist.model.reference import parse_reference

        if not recorded.name or recorded.digest is None:
            return False
        try:
            ref = parse_reference(recorded.name)
            if ref.kind != self.src.ref.kind:
                return False
            base = Image(Location(self.src.store, ref.by_digest(recorded.digest)))
            theirs = list(base.config.diff_ids)
        except HoistError as exc:
            log.info(
                "the recorded base %s cannot be read (%s): it is no longer recorded",
                recorded.name,
                exc,
            )
            return False
        ours = list(image.config.diff_ids)
        return len(theirs) <= keep and ours[: len(theirs)] == theirs

    def write(self, draft: Draft, source: ImageManifest, *, tag: bool) -> Descriptor:
        raw = draft.config_blob(None)
        config = Descriptor(source.config.media_type, digest_of(raw), len(raw))
        annotations = dict(draft.annotations)
        if mt.is_docker(source.media_type):
            annotations = {}
        manifest = ImageManifest.build(
            config,
            [x.descriptor for x in draft.layers],
            media_type=source.media_type,
            annotations=annotations,
            subject=source.subject,
        )
        return write_manifest(
            self.dst,
            manifest,
            blobs={config.digest: raw},
            layers=draft.new_layers(),
            sources=self.sources,
            tag=tag,
        )
