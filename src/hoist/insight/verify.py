"""Verify an image end to end: every blob's size and digest, every layer's diff_id, media
types that agree with each other, index platforms that agree with the configs.

Each check is reported, failures included; nothing raises for content that is wrong, so a
report lists every problem, not the first. Blobs shared by several manifests are read once::

    report = image_verify(client.at("ocidir://oci:app"))
    print(render_text(report))              # one line per check, then "N checks, verified"
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hoist.errors import DigestMismatch, HoistError, NotFound
from hoist.image import read_config_bytes
from hoist.insight._format import short_digest
from hoist.layers.stream import DEFAULT_MAX_BYTES, LayerStream
from hoist.model import mediatype as mt
from hoist.model.config import ImageConfig, parse_config
from hoist.model.manifest import ImageManifest, Index, Manifest

if TYPE_CHECKING:
    from hoist.location import Location
    from hoist.model.descriptor import Descriptor
    from hoist.model.digest import Digest
    from hoist.model.platform import Platform

__all__ = ["Check", "VerifyReport", "image_verify", "render_text"]


@dataclass(frozen=True)
class Check:
    """One thing verified about one piece of content."""

    subject: str
    """``index``, ``linux/amd64 manifest``, ``linux/amd64 layer 2``..."""
    digest: str
    check: str
    """``digest``, ``size``, ``media type``, ``platform``, ``diff_id``, ``layers``, ``config``."""
    ok: bool
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "digest": self.digest,
            "check": self.check,
            "ok": self.ok,
            "detail": self.detail,
        }


@dataclass
class VerifyReport:
    """Every check made on an image (``ref`` is its location's text); :attr:`ok` when none
    failed."""

    ref: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def to_dict(self) -> dict[str, Any]:
        return {"ref": self.ref, "ok": self.ok, "checks": [c.to_dict() for c in self.checks]}


@dataclass
class _Blob:
    ok: bool
    detail: str
    diff_id: Digest | None = None


def _manifest_types_agree(parent: str, child: str) -> bool:
    if mt.is_index(parent) and (mt.is_image_manifest(child) or mt.is_index(child)):
        return mt.is_docker(parent) == mt.is_docker(child)
    return True


class _Verifier:
    def __init__(self, location: Location, max_bytes: int | None) -> None:
        self.location = location
        self.max_bytes = max_bytes
        self.report = VerifyReport(str(location))
        self._blobs: dict[Digest, _Blob] = {}

    def add(self, subject: str, digest: Digest | str, check: str, ok: bool, detail: str) -> None:
        self.report.checks.append(Check(subject, str(digest), check, ok, detail))

    def fetch(self, subject: str, desc: Descriptor) -> Manifest | None:
        try:
            manifest = self.location.by_digest(desc.digest).manifest_get()
        except HoistError as exc:
            self.add(subject, desc.digest, "digest", False, str(exc))
            return None
        ok = manifest.size == desc.size
        detail = f"{manifest.size} bytes" + ("" if ok else f", descriptor says {desc.size}")
        self.add(subject, desc.digest, "digest", ok, f"manifest bytes match; {detail}")
        if manifest.media_type != desc.media_type:
            self.add(
                subject,
                desc.digest,
                "media type",
                False,
                f"descriptor says {desc.media_type}, manifest is {manifest.media_type}",
            )
        return manifest

    def index(self, index: Index, platform: Platform | None) -> None:
        children = index.manifests if platform is None else (index.choose(platform),)
        for desc in children:
            subject = f"{desc.platform or 'untagged'} manifest"
            if not _manifest_types_agree(index.media_type, desc.media_type):
                self.add(
                    subject,
                    desc.digest,
                    "media type",
                    False,
                    f"{desc.media_type} in a {index.media_type}",
                )
            child = self.fetch(subject, desc)
            if isinstance(child, Index):
                self.index(child, platform)
            elif isinstance(child, ImageManifest):
                self.manifest(child, desc.platform)

    def blob(self, desc: Descriptor, *, layer: bool) -> _Blob:
        known = self._blobs.get(desc.digest)
        if known is not None:
            return known
        try:
            reader = self.location.blob_get(desc.digest, desc.size)
            if layer:
                with LayerStream(
                    reader,
                    desc.media_type,
                    name=f"blob {desc.digest}",
                    size_hint=desc.size,
                    max_bytes=self.max_bytes,
                ) as stream:
                    diff_id = stream.finish()
                result = _Blob(True, f"{desc.size} bytes, {stream.compression}", diff_id)
            else:
                with reader:
                    while reader.read(1 << 20):
                        pass
                result = _Blob(True, f"{desc.size} bytes")
        except NotFound as exc:
            if desc.urls and mt.is_nondistributable(desc.media_type):
                result = _Blob(True, "foreign layer, not stored here: skipped")
            else:
                result = _Blob(False, str(exc))
        except HoistError as exc:
            result = _Blob(False, str(exc))
        self._blobs[desc.digest] = result
        return result

    def manifest(self, manifest: ImageManifest, declared: Platform | None) -> None:
        name = str(declared) if declared else "image"
        cdesc = manifest.config
        docker = manifest.is_docker
        if mt.is_config(cdesc.media_type) and mt.is_docker(cdesc.media_type) != docker:
            self.add(
                f"{name} config",
                cdesc.digest,
                "media type",
                False,
                f"{cdesc.media_type} config in a {manifest.media_type}",
            )
        elif mt.is_config(cdesc.media_type):
            self.add(f"{name} config", cdesc.digest, "media type", True, cdesc.media_type)
        got = self.blob(cdesc, layer=False)
        self.add(f"{name} config", cdesc.digest, "digest", got.ok, got.detail)
        config = self.config(manifest, name) if got.ok else None
        if config is not None and declared is not None:
            ok = declared.matches(config.platform)
            self.add(
                f"{name} config",
                cdesc.digest,
                "platform",
                ok,
                f"index says {declared}, config says {config.platform}",
            )
        if config is not None and len(config.diff_ids) != len(manifest.layers):
            self.add(
                f"{name} manifest",
                manifest.digest,
                "layers",
                False,
                f"{len(manifest.layers)} layers but {len(config.diff_ids)} diff_ids",
            )
        for i, desc in enumerate(manifest.layers):
            self.layer(f"{name} layer {i}", i, desc, docker, config)

    def config(self, manifest: ImageManifest, name: str) -> ImageConfig | None:
        cdesc = manifest.config
        if not mt.is_config(cdesc.media_type):
            self.add(
                f"{name} config",
                cdesc.digest,
                "config",
                True,
                f"artifact config {cdesc.media_type}: not an image",
            )
            return None
        try:
            return parse_config(read_config_bytes(self.location, cdesc))
        except HoistError as exc:
            self.add(f"{name} config", cdesc.digest, "config", False, str(exc))
            return None

    def layer(
        self, subject: str, i: int, desc: Descriptor, docker: bool, config: ImageConfig | None
    ) -> None:
        if mt.is_layer(desc.media_type):
            ok = mt.is_docker(desc.media_type) == docker
            kind = "Docker" if docker else "OCI"
            self.add(
                subject,
                desc.digest,
                "media type",
                ok,
                desc.media_type if ok else f"{desc.media_type} in an {kind} manifest",
            )
        got = self.blob(desc, layer=True)
        self.add(subject, desc.digest, "digest", got.ok, got.detail)
        if config is None or got.diff_id is None:
            return
        want = config.diff_ids[i] if i < len(config.diff_ids) else None
        ok = got.diff_id == want
        detail = f"{got.diff_id}" if ok else f"computed {got.diff_id}, config says {want}"
        self.add(subject, desc.digest, "diff_id", ok, detail)


def image_verify(
    location: Location,
    *,
    platform: Platform | None = None,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
) -> VerifyReport:
    """Verify everything under ``location`` (only ``platform``'s branch of an index, if given).

    ``max_bytes`` bounds what one layer may decompress to (None: no bound).
    """
    v = _Verifier(location, max_bytes)
    try:
        top = location.manifest_get()
    except DigestMismatch as exc:
        v.add("manifest", str(location), "digest", False, str(exc))
        return v.report
    kind = "index" if isinstance(top, Index) else "manifest"
    v.add(kind, top.digest, "digest", True, f"{top.media_type}, {top.size} bytes")
    if isinstance(top, Index):
        v.index(top, platform)
    elif isinstance(top, ImageManifest):
        v.manifest(top, None)
    else:
        v.add(kind, top.digest, "media type", False, f"{top.media_type} is not supported")
    return v.report


def render_text(report: VerifyReport, *, full: bool = False) -> str:
    """One line per check, ``ok`` or ``FAIL``, then a summary."""
    from hoist.model.digest import Digest

    lines = []
    for c in report.checks:
        try:
            digest = short_digest(Digest.parse(c.digest), full)
        except ValueError:
            digest = c.digest
        mark = "ok  " if c.ok else "FAIL"
        detail = c.detail if full or not c.ok else _shorten(c.detail)
        lines.append(f"{mark}  {c.subject}  {digest}  {c.check}: {detail}")
    failed = len(report.failures)
    verdict = "verified" if not failed else f"{failed} FAILED"
    lines.append(f"{report.ref}: {len(report.checks)} checks, {verdict}")
    return "\n".join(lines)


def _shorten(text: str) -> str:
    return re.sub(r"(sha256:[0-9a-f]{12})[0-9a-f]{52}", r"\1", text)
