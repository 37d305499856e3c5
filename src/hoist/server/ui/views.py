"""What each page of the web view shows, read from the server's storage with bounded work.

:class:`Views` builds one typed value per page (:class:`RepositoriesPage`,
:class:`RepositoryPage`, :class:`ImagePage`, :class:`LayerPage`, :class:`JsonPage`); the
templates only lay them out. Manifests and configs are parsed by :mod:`hoist.model` and walked
by :class:`hoist.image.Image` over a :class:`~hoist.server.ui.store.ServerStore`; the
shared-layer picture is :func:`hoist.insight.image_tree` drawn by :mod:`hoist.insight.dot`.

Every page does bounded work: tags are paginated (a page reads the manifests and configs of
its own rows only), lists of referrers, sharing images and layer entries are capped, and what
was read is cached. Content is addressed by digest and so never changes: its summaries are
kept in small LRU caches. What a repository holds (tags, links) is cached under the mtimes of
the directories a push changes (:meth:`Storage.stamp`), re-read when they move, and not cached
while they are younger than :data:`RACY_SECONDS` (a push in the same clock tick as a read must
not be missed). Nothing here writes.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any

from hoist.errors import HoistError, InvalidInput, NotFound
from hoist.image import Image, LayerRow
from hoist.location import Location
from hoist.model import mediatype as mt
from hoist.model.config import ImageConfig, parse_config
from hoist.model.descriptor import Descriptor
from hoist.model.digest import ALGORITHMS, Digest, digest_of
from hoist.model.jsonvalue import parse_json
from hoist.model.manifest import (
    MAX_MANIFEST_SIZE,
    ImageManifest,
    Index,
    Manifest,
    parse_manifest,
)
from hoist.server.storage import Storage
from hoist.server.ui.cache import LRU
from hoist.server.ui.pages import (
    ChildRow,
    Command,
    Entry,
    HistoryRow,
    ImagePage,
    JsonLink,
    JsonPage,
    LayerInfo,
    LayerPage,
    Listing,
    ReferrerNode,
    RepoRow,
    RepositoriesPage,
    RepositoryPage,
    SubjectReferrers,
    Summary,
    TagRow,
    User,
)
from hoist.server.ui.sorting import DEFAULT_ORDER, SORTS, paginate, sort_tags
from hoist.server.ui.store import ServerStore, server_ref

__all__ = [
    "ImagePage",
    "JsonPage",
    "LayerPage",
    "NotHere",
    "RepositoriesPage",
    "RepositoryPage",
    "Summary",
    "Views",
]


RACY_SECONDS = 2.0
"""What changed this recently is read again on the next request rather than cached."""
REPOS_PER_PAGE = 100
TAGS_PER_PAGE = 50
MAX_TAGS_PER_PAGE = 250
MAX_CHILDREN = 64
"""Children of an index summarised (sizes, platforms, layers); the rest are only listed."""
MAX_CONFIG = 4 * 1024 * 1024
"""Configs larger than this are not read for a summary (the image page still shows them)."""
MAX_JSON = 4 * 1024 * 1024
MAX_SUBJECTS = 50
MAX_REFERRERS = 50
MAX_REFERRER_DEPTH = 4
MAX_SHARING_REPOS = 200
MAX_SHARING_TAGS = 2000
"""Tags looked at (across repositories) to find the images that share a layer."""
MAX_USERS = 20
"""Images listed as sharing one layer."""
MAX_TREE_IMAGES = 4
"""Images drawn in the shared-layer picture: this one and up to three that share its layers."""
MAX_LISTED_LAYER = 32 * 1024 * 1024
"""Layers up to this (compressed) size are listed on their page."""
MAX_LISTING_BYTES = 512 * 1024 * 1024
MAX_ENTRIES = 1000

_DIGEST_TAG = re.compile(r"(?P<alg>sha256|sha512)-(?P<hex>[0-9a-f]{64}|[0-9a-f]{128})(?:\..*)?")
_JSON_DIGEST = re.compile(r'"((?:sha256:[0-9a-f]{64})|(?:sha512:[0-9a-f]{128}))"')


class NotHere(HoistError):
    """What a page asks for is not in this repository (the page answers 404)."""


# ---------------------------------------------------------------------- building pages


def _human_platform(desc: Descriptor) -> str | None:
    return str(desc.platform) if desc.platform is not None else None


class Views:
    """Pages of the web view over ``storage``; safe to use from several threads."""

    def __init__(self, storage: Storage, *, clock: Callable[[], float] = time.time) -> None:
        self.storage = storage
        self.store = ServerStore(storage)
        self._clock = clock
        self._summaries: LRU[tuple[str, Digest], Summary] = LRU(8192)
        self._tags: LRU[str, tuple[tuple[int, ...], dict[str, tuple[Digest, float]]]] = LRU(1024)
        self._repos: LRU[str, tuple[tuple[int, ...], RepoRow]] = LRU(4096)
        self._blobstore: tuple[tuple[int, ...], int, int] | None = None
        self._listings: LRU[Digest, Listing | str] = LRU(32)
        self._svgs: LRU[Hashable, bytes] = LRU(64)
        self._resolved: LRU[tuple[str, str, float], Digest] = LRU(16384)
        self._blobs = str(storage.blobs_dir)

    def clear(self) -> None:
        """Forget everything cached (benchmarks measure cold pages with it)."""
        caches = (self._summaries, self._tags, self._repos, self._listings, self._svgs)
        for cache in (*caches, self._resolved):
            cache.clear()
        self._blobstore = None

    def _settled(self, stamp: Iterable[int]) -> bool:
        newest = max(stamp, default=0)
        return newest == 0 or newest / 1e9 < self._clock() - RACY_SECONDS

    def location(self, host: str, name: str, digest: Digest, tag: str | None = None) -> Location:
        """Where ``name@digest`` is, for hoist's library."""
        return Location(self.store, server_ref(host, name, tag, digest))

    # -- what a repository holds -------------------------------------------------------------

    def _check(self, name: str) -> None:
        if not self.storage.repo_exists(name):
            raise NotHere(f"no repository {name} here")

    def tag_records(self, name: str) -> dict[str, tuple[Digest, float]]:
        """Tags of ``name`` with their digests and push times (cached under the stamp)."""
        stamp = self.storage.stamp(name)
        cached = self._tags.get(name)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        records = self.storage.tag_records(name)
        if self._settled(stamp):
            self._tags.put(name, (stamp, records))
        return records

    def repo_row(self, name: str) -> RepoRow:
        """Counts and sizes of ``name`` (cached under the stamp)."""
        stamp = self.storage.stamp(name)
        cached = self._repos.get(name)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        manifests, blobs, size = self.storage.usage(name)
        newest = max(stamp, default=0)
        row = RepoRow(
            name,
            len(self.storage.tag_times(name)),
            manifests,
            blobs,
            size,
            newest / 1e9 if newest else None,
        )
        if self._settled(stamp):
            self._repos.put(name, (stamp, row))
        return row

    def _blob_store(self) -> tuple[int, int]:
        """Bytes and count of every blob on disk (cached under the blob directories' mtimes)."""
        stamp = []
        for alg in ALGORITHMS:
            try:
                stamp.append((self.storage.blobs_dir / alg).stat().st_mtime_ns)
            except FileNotFoundError:
                stamp.append(0)
        key = tuple(stamp)
        if self._blobstore is not None and self._blobstore[0] == key:
            return self._blobstore[1], self._blobstore[2]
        sizes = [self._size(d) for d in self.storage.all_blobs()]
        total, count = sum(sizes), len(sizes)
        if self._settled(key):
            self._blobstore = (key, total, count)
        return total, count

    # -- summaries of manifests ------------------------------------------------------------------

    def _file(self, digest: Digest) -> str:
        """The blob file of ``digest`` (plain strings: pathlib costs more than the stat)."""
        return os.path.join(self._blobs, digest.algorithm, digest.hex)

    def _size(self, digest: Digest) -> int:
        try:
            return os.stat(self._file(digest)).st_size
        except OSError:
            return 0

    def _content(self, digest: Digest, limit: int) -> bytes | None:
        """Stored bytes of ``digest`` (at most ``limit``); None if absent or larger.

        Summaries read content this way, by digest: a tag or an index of the repository
        names it, so the repository holds it (content before link before tag). Callers
        check the digest of what they parse (:func:`_verified`)."""
        try:
            with open(self._file(digest), "rb") as f:
                raw = f.read(limit + 1)
        except OSError:
            return None
        return raw if len(raw) <= limit else None

    def _parsed(self, digest: Digest) -> Manifest | None:
        raw = self._content(digest, MAX_MANIFEST_SIZE)
        if raw is None:
            return None
        manifest = parse_manifest(raw)
        return manifest if _verified(raw, manifest.digest, digest) else None

    def _read(self, name: str, digest: Digest) -> Manifest | None:
        try:
            return self.store.manifest_get(server_ref("localhost", name, None, digest))
        except NotFound:
            return None

    def _read_config(self, name: str, desc: Descriptor) -> ImageConfig | None:
        if not mt.is_config(desc.media_type) or desc.size > MAX_CONFIG:
            return None
        raw = desc.data if desc.data is not None else self._content(desc.digest, desc.size)
        if raw is None:
            return None
        try:
            config = parse_config(raw)
        except InvalidInput:
            return None
        return config if _verified(raw, config.digest, desc.digest) else None

    def summary(self, name: str, digest: Digest, *, depth: int = 0) -> Summary:
        """What ``name@digest`` is, how big, for which platforms, created when (cached)."""
        key = (name, digest)
        cached = self._summaries.get(key)
        if cached is not None:
            return cached
        result = self._summarise(name, digest, depth)
        if result.kind != "missing":
            self._summaries.put(key, result)
        return result

    def _summarise(self, name: str, digest: Digest, depth: int) -> Summary:
        try:
            manifest = self._parsed(digest)
        except HoistError as exc:
            return Summary(digest, "", "invalid", error=str(exc))
        if manifest is None:
            return Summary(digest, "", "missing", error="not in this repository")
        subject = getattr(manifest, "subject", None)
        base: dict[str, Any] = {
            "manifest_size": manifest.size,
            "subject": subject.digest if subject is not None else None,
            "artifact_type": getattr(manifest, "artifact_type", None),
        }
        if isinstance(manifest, ImageManifest):
            config = self._read_config(name, manifest.config)
            image = mt.is_config(manifest.config.media_type) and manifest.artifact_type is None
            platform = str(config.platform) if config and config.os else None
            platforms: tuple[str, ...] = (platform,) if platform else ()
            blobs = {d.digest: d.size for d in manifest.referenced()}
            if not image and base["artifact_type"] is None:
                base["artifact_type"] = manifest.config.media_type
            return Summary(
                digest,
                manifest.media_type,
                "image" if image else "artifact",
                size=manifest.size + sum(blobs.values()),
                platforms=platforms,
                created=(config.created or None) if config else None,
                layers={d.digest: platforms for d in manifest.layers},
                blobs=blobs,
                **base,
            )
        if isinstance(manifest, Index):
            blobs = {}
            layers: dict[Digest, tuple[str, ...]] = {}
            created: list[str] = []
            size = manifest.size
            for desc in manifest.manifests[:MAX_CHILDREN]:
                if depth >= 1 or not mt.is_manifest(desc.media_type):
                    blobs[desc.digest] = desc.size
                    continue
                child = self.summary(name, desc.digest, depth=depth + 1)
                size += child.manifest_size
                label = _human_platform(desc) or (child.platforms[0] if child.platforms else "")
                for layer in child.layers:
                    layers[layer] = (*layers.get(layer, ()), label)
                if child.created and child.kind == "image":
                    created.append(child.created)
                blobs.update(child.blobs)
            platforms = tuple(
                p
                for p in (_human_platform(d) for d in manifest.manifests)
                if p is not None and p != "unknown/unknown"
            )
            return Summary(
                digest,
                manifest.media_type,
                "index",
                size=size + sum(blobs.values()),
                platforms=platforms,
                created=max(created) if created else None,
                layers=layers,
                blobs=blobs,
                children=len(manifest.manifests),
                **base,
            )
        return Summary(digest, manifest.media_type, "schema1", manifest_size=manifest.size)

    # -- the repositories page -------------------------------------------------------------

    def repositories(self, page: int = 1) -> RepositoriesPage:
        names, where = paginate(self.storage.repositories(), page, REPOS_PER_PAGE)
        rows = [self.repo_row(name) for name in names]
        stored, count = self._blob_store()
        return RepositoriesPage(rows, where, sum(r.size for r in rows), stored, count)

    # -- a repository page -------------------------------------------------------------------

    def repository(
        self,
        name: str,
        *,
        sort: str = "name",
        order: str | None = None,
        page: int = 1,
        per_page: int = TAGS_PER_PAGE,
    ) -> RepositoryPage:
        """A page of ``name``'s tags in ``sort`` order, with the repository's referrers."""
        self._check(name)
        sort = sort if sort in SORTS else "name"
        order = order if order in ("asc", "desc") else DEFAULT_ORDER[sort]
        per_page = min(max(1, per_page), MAX_TAGS_PER_PAGE)
        times = self.storage.tag_times(name)
        shown, where = paginate(sort_tags(times.items(), sort, order), page, per_page)
        subjects = self.storage.referrer_subjects(name)
        with_referrers = set(subjects)
        rows = []
        for tag, pushed in shown:
            digest = self._resolve(name, tag, pushed)
            if digest is None:
                continue  # deleted since it was listed
            match = _DIGEST_TAG.fullmatch(tag)
            attached = Digest(match["alg"], match["hex"]) if match else None
            rows.append(
                TagRow(
                    tag,
                    digest,
                    pushed,
                    self.summary(name, digest),
                    len(self.storage.referrers(name, digest)) if digest in with_referrers else 0,
                    attached,
                )
            )
        # the referrers section needs every tag's digest, only when there are referrers
        found, more = self._subjects(name, self.tag_records(name)) if subjects else ([], False)
        return RepositoryPage(
            name, rows, where, sort, order, per_page, self.repo_row(name), found, more
        )

    def _resolve(self, name: str, tag: str, pushed: float) -> Digest | None:
        """The digest ``tag`` points to (cached under the time it was set, once settled)."""
        key = (name, tag, pushed)
        digest = self._resolved.get(key)
        if digest is None:
            digest = self.storage.resolve(name, tag)
            if digest is not None and pushed < self._clock() - RACY_SECONDS:
                self._resolved.put(key, digest)
        return digest

    def _subjects(
        self, name: str, records: Mapping[str, tuple[Digest, float]]
    ) -> tuple[list[SubjectReferrers], bool]:
        by_digest: dict[Digest, list[str]] = {}
        for tag, (digest, _) in records.items():
            by_digest.setdefault(digest, []).append(tag)
        out = []
        subjects = sorted(self.storage.referrer_subjects(name), key=str)
        known = set(subjects)
        for subject in subjects:
            info = self.storage.manifest_info(name, subject)
            if info is not None and info.subject in known:
                continue  # a referrer itself: drawn in its subject's tree
            nodes = self.referrer_tree(name, subject, records=records)
            if nodes:
                tags = tuple(sorted(by_digest.get(subject, ())))
                out.append(SubjectReferrers(subject, tags, tuple(nodes)))
            if len(out) >= MAX_SUBJECTS:
                return out, True
        return out, False

    def referrer_tree(
        self,
        name: str,
        subject: Digest,
        *,
        depth: int = 0,
        records: Mapping[str, tuple[Digest, float]] | None = None,
    ) -> list[ReferrerNode]:
        """The referrers of ``subject`` and theirs, ``MAX_REFERRER_DEPTH`` levels deep; with
        ``records`` (the tags) also the ``<alg>-<hex>.*`` digest tags of each."""
        nodes = []
        for entry in self.storage.referrers(name, subject)[:MAX_REFERRERS]:
            try:
                desc = Descriptor.from_dict(entry, "referrer")
            except InvalidInput:
                continue
            below: list[ReferrerNode] = []
            if depth + 1 < MAX_REFERRER_DEPTH:
                below = self.referrer_tree(name, desc.digest, depth=depth + 1, records=records)
            nodes.append(
                ReferrerNode(
                    desc.digest,
                    desc.media_type,
                    desc.size,
                    desc.artifact_type,
                    dict(desc.annotations),
                    children=tuple(below),
                )
            )
        if records is not None:
            prefix = f"{subject.algorithm}-{subject.hex}"
            for tag in sorted(records):
                if tag.startswith(prefix):
                    digest = records[tag][0]
                    info = self.storage.manifest_info(name, digest)
                    summary = self.summary(name, digest)
                    nodes.append(
                        ReferrerNode(
                            digest,
                            info.media_type if info else "",
                            info.size if info else 0,
                            summary.artifact_type,
                            {},
                            tag=tag,
                        )
                    )
        return nodes

    # -- who shares a layer ------------------------------------------------------------------

    def layer_users(
        self, name: str, layers: Iterable[Digest], exclude: Iterable[Digest]
    ) -> dict[Digest, list[User]]:
        """For each layer, the tagged images in any repository that use it, except ``name``'s
        images at ``exclude`` (bounded: repositories, tags looked at, users kept)."""
        wanted = list(dict.fromkeys(layers))
        skip = set(exclude)
        users: dict[Digest, list[User]] = {d: [] for d in wanted}
        budget = MAX_SHARING_TAGS
        for repo in self.storage.repositories()[:MAX_SHARING_REPOS]:
            linked = [d for d in wanted if self.storage.blob_size(repo, d) is not None]
            if not linked:
                continue
            for tag, (digest, _) in sorted(self.tag_records(repo).items()):
                if budget <= 0:
                    return users
                budget -= 1
                if repo == name and digest in skip:
                    continue
                summary = self.summary(repo, digest)
                for d in linked:
                    if d in summary.layers and len(users[d]) <= MAX_USERS:
                        users[d].append(User(repo, tag, digest, summary.layers[d]))
        return users

    # -- an image page -----------------------------------------------------------------------

    def image(
        self, host: str, name: str, digest: Digest, *, child: Digest | None = None
    ) -> ImagePage:
        """The manifest ``name@digest`` (an index: with the platform manifest ``child``, by
        default its first), its config, layers and history, sharing images and referrers."""
        self._check(name)
        records = self.tag_records(name)
        top = self._read(name, digest)
        if top is None:
            raise NotHere(f"no manifest {digest} in {name}")
        index = top if isinstance(top, Index) else None
        children: list[ChildRow] = []
        manifest = top if isinstance(top, ImageManifest) else None
        if index is not None:
            image_children = [d for d in index.manifests if mt.is_image_manifest(d.media_type)]
            if child is None and image_children:
                child = image_children[0].digest
            for desc in index.manifests:
                present = self.storage.manifest_info(name, desc.digest) is not None
                children.append(
                    ChildRow(desc, _human_platform(desc), desc.digest == child, present)
                )
            if child is not None and any(d.digest == child for d in index.manifests):
                chosen = self._read(name, child)
                manifest = chosen if isinstance(chosen, ImageManifest) else None
        config: ImageConfig | None = None
        config_error = None
        history: list[HistoryRow] = []
        layers: list[LayerInfo] = []
        if manifest is not None:
            img = Image(self.location(host, name, manifest.digest))
            exclude = {top.digest, manifest.digest}
            users = self.layer_users(name, (d.digest for d in manifest.layers), exclude)
            image_config = mt.is_config(manifest.config.media_type)
            if image_config:
                try:
                    config = img.config
                except (HoistError, OSError) as exc:
                    config_error = str(exc)
            diff_ids = config.diff_ids if config is not None else ()
            for i, desc in enumerate(manifest.layers):
                found = users.get(desc.digest, [])
                layers.append(
                    LayerInfo(
                        i,
                        desc,
                        diff_ids[i] if i < len(diff_ids) else None,
                        tuple(found[:MAX_USERS]),
                        len(found) > MAX_USERS,
                    )
                )
            if config is not None:
                history = [_history_row(n, row, layers) for n, row in enumerate(img.layer_rows())]
        subject: Descriptor | None = getattr(top, "subject", None)
        subject_tags: tuple[str, ...] = ()
        if subject is not None:
            subject_tags = tuple(sorted(t for t, (d, _) in records.items() if d == subject.digest))
        tags = tuple(sorted(t for t, (d, _) in records.items() if d == top.digest))
        return ImagePage(
            name=name,
            host=host,
            top=top,
            tags=tags,
            index=index,
            children=children,
            manifest=manifest,
            config=config,
            config_error=config_error,
            history=history,
            layers=layers,
            referrers=self._all_referrers(name, top, manifest, records),
            subject=subject,
            subject_present=subject is not None
            and self.storage.manifest_info(name, subject.digest) is not None,
            subject_tags=subject_tags,
            picture=shutil.which("dot") is not None,
            commands=_image_commands(host, name, top.digest, tags),
            json_links=_json_links(top, manifest),
        )

    def _all_referrers(
        self,
        name: str,
        top: Manifest,
        manifest: ImageManifest | None,
        records: Mapping[str, tuple[Digest, float]],
    ) -> list[ReferrerNode]:
        nodes = self.referrer_tree(name, top.digest, records=records)
        if manifest is not None and manifest.digest != top.digest:
            nodes += self.referrer_tree(name, manifest.digest, records=records)
        return nodes

    # -- the shared-layer picture ------------------------------------------------------------

    def picture(self, host: str, name: str, digest: Digest) -> bytes:
        """The SVG ``hoist image tree --format svg --referrers`` draws for this image and up
        to three images sharing its layers (Unsupported without Graphviz)."""
        from hoist.insight import image_tree, render_svg, to_dot

        self._check(name)
        top = self._read(name, digest)
        if top is None:
            raise NotHere(f"no manifest {digest} in {name}")
        summary = self.summary(name, digest)
        users = self.layer_users(name, summary.layers, {digest})
        images: dict[tuple[str, Digest], str] = {(name, digest): self._tag_of(name, digest)}
        for found in users.values():
            for user in found:
                if len(images) >= MAX_TREE_IMAGES:
                    break
                images.setdefault((user.repository, user.digest), user.tag)
        key = tuple(
            (repo, d, tag, self.storage.stamp(repo))
            for (repo, d), tag in sorted(images.items(), key=str)
        )
        cached = self._svgs.get(key)
        if cached is not None:
            return cached
        # drawn as repo:tag where a tag names the image (the stamps in the key notice a move)
        locations = [
            Location(self.store, server_ref(host, repo, tag, None if tag else d))
            for (repo, d), tag in images.items()
        ]
        trees = image_tree(locations, referrers=True)
        svg = render_svg(to_dot(trees))
        self._svgs.put(key, svg)
        return svg

    def _tag_of(self, name: str, digest: Digest) -> str:
        return next((t for t, (d, _) in sorted(self.tag_records(name).items()) if d == digest), "")

    # -- a layer page ------------------------------------------------------------------------

    def layer(
        self, host: str, name: str, digest: Digest, *, image: Digest | None = None
    ) -> LayerPage:
        """Blob ``digest`` of ``name`` as a layer: its two digests, the step that made it (when
        reached from ``image``), the images sharing it and (small layers) its files."""
        self._check(name)
        size = self.storage.blob_size(name, digest)
        if size is None:
            raise NotHere(f"no blob {digest} in {name}")
        media_type: str | None = None
        position = None
        diff_id = None
        steps: list[str] = []
        image_tags: tuple[str, ...] = ()
        manifest = self._read(name, image) if image is not None else None
        if isinstance(manifest, ImageManifest):
            for i, desc in enumerate(manifest.layers):
                if desc.digest == digest:
                    position, media_type = i, desc.media_type
                    break
            config = self._read_config(name, manifest.config)
            if config is not None and position is not None:
                if position < len(config.diff_ids):
                    diff_id = config.diff_ids[position]
                for step, idx in config.layer_history():
                    if idx == position and step is not None:
                        steps.append(step.created_by)
            image_tags = tuple(
                sorted(t for t, (d, _) in self.tag_records(name).items() if d == image)
            )
        else:
            image = None
        found = self.layer_users(name, [digest], ()).get(digest, [])
        listing, note = self._listing(host, name, digest, media_type, size)
        ref = server_ref(host, name)
        commands = [
            Command("Download the blob", f"hoist blob get {ref.name} {digest} > layer.tar.gz"),
            Command("List its files", f"hoist layer ls {ref.name}@{image} {digest}")
            if image is not None
            else Command("List its files", f"hoist layer ls {ref} {digest}"),
        ]
        return LayerPage(
            name,
            host,
            digest,
            size,
            media_type,
            image,
            image_tags,
            position,
            diff_id,
            tuple(steps),
            tuple(found[:MAX_USERS]),
            len(found) > MAX_USERS,
            listing,
            note,
            commands,
        )

    def _listing(
        self, host: str, name: str, digest: Digest, media_type: str | None, size: int
    ) -> tuple[Listing | None, str | None]:
        if size > MAX_LISTED_LAYER:
            return None, (
                f"larger than {MAX_LISTED_LAYER // (1024 * 1024)} MiB: not listed here "
                "(hoist layer ls lists it)"
            )
        cached = self._listings.get(digest)
        if cached is None:
            cached = self._list(host, name, digest, media_type, size)
            self._listings.put(digest, cached)
        if isinstance(cached, str):
            return None, cached
        return cached, None

    def _list(
        self, host: str, name: str, digest: Digest, media_type: str | None, size: int
    ) -> Listing | str:
        from hoist.files import blob_listing

        try:
            listing = blob_listing(
                self.location(host, name, digest),
                digest,
                media_type=media_type,
                size=size,
                max_bytes=MAX_LISTING_BYTES,
            )
        except (HoistError, OSError, EOFError) as exc:
            return f"not a layer hoist can list: {exc}"
        entries = tuple(
            Entry(e.filemode(), e.display_path, e.size, e.target_text())
            for e in listing.entries[:MAX_ENTRIES]
        )
        return Listing(
            entries, len(listing.entries), listing.diff_id, listing.size, listing.compression
        )

    # -- raw JSON ------------------------------------------------------------------------------

    def json(self, name: str, digest: Digest) -> JsonPage:
        """Manifest or config ``digest`` of ``name``, pretty, with its digests to link."""
        self._check(name)
        info = self.storage.manifest_info(name, digest)
        roles: dict[str, str] = {}
        if info is not None:
            found = self.storage.read_manifest(name, digest)
            if found is None:
                raise NotHere(f"no manifest {digest} in {name}")
            raw, kind, media_type = found[0], "manifest", info.media_type
            with contextlib.suppress(HoistError):
                roles = _roles(parse_manifest(raw, media_type))
        else:
            size = self.storage.blob_size(name, digest)
            if size is None:
                raise NotHere(f"no manifest or blob {digest} in {name}")
            if size > MAX_JSON:
                raise NotHere(f"blob {digest} is {size} bytes: too large to show as JSON")
            with self.store.blob_get(
                server_ref("localhost", name, None, digest), digest, size
            ) as reader:
                raw = reader.read()
            kind, media_type = "blob", "application/json"
        import json

        try:
            value = parse_json(raw, what=f"{kind} {digest}", max_size=MAX_JSON)
        except InvalidInput as exc:
            raise NotHere(f"{digest} is not JSON: {exc}") from None
        text = json.dumps(value, indent=2, ensure_ascii=False)
        parts: list[tuple[str, str | None]] = []
        last = 0
        for match in _JSON_DIGEST.finditer(text):
            role = roles.get(match[1])
            if role is None:
                continue
            parts.append((text[last : match.start(1)], None))
            parts.append((match[1], role))
            last = match.end(1)
        parts.append((text[last:], None))
        return JsonPage(name, digest, kind, media_type, len(raw), parts)


def _verified(raw: bytes, parsed: Digest, wanted: Digest) -> bool:
    """Whether ``raw`` (parsed with sha256 digest ``parsed``) is the content of ``wanted``."""
    if wanted.algorithm == parsed.algorithm:
        return parsed == wanted
    return digest_of(raw, wanted.algorithm) == wanted


def _roles(manifest: Manifest) -> dict[str, str]:
    """What each digest a manifest names is: ``manifest``, ``config`` or ``layer``."""
    roles: dict[str, str] = {}
    if isinstance(manifest, ImageManifest):
        roles[str(manifest.config.digest)] = "config"
        for d in manifest.layers:
            roles[str(d.digest)] = "layer" if mt.is_layer(d.media_type) else "blob"
    elif isinstance(manifest, Index):
        for d in manifest.manifests:
            roles[str(d.digest)] = "manifest" if mt.is_manifest(d.media_type) else "blob"
    subject = getattr(manifest, "subject", None)
    if subject is not None:
        roles[str(subject.digest)] = "manifest"
    return roles


def _history_row(n: int, row: LayerRow, layers: list[LayerInfo]) -> HistoryRow:
    layer = layers[row.index] if row.index is not None and row.index < len(layers) else None
    return HistoryRow(
        n if row.step is not None else None,
        row.created_by,
        row.created,
        row.empty_layer,
        layer,
    )


def _image_commands(host: str, name: str, digest: Digest, tags: tuple[str, ...]) -> list[Command]:
    ref = server_ref(host, name, None, digest)
    local = name.rsplit("/", 1)[-1]
    target = f"ocidir://./{local}:{tags[0] if tags else 'latest'}"
    return [
        Command("Copy with hoist", f"hoist image copy {ref} {target}"),
        Command("Pull by digest", f"docker pull {ref}"),
        Command("Inspect", f"hoist image inspect {ref}"),
        Command("Draw its tree", f"hoist image tree {ref} --referrers --format svg > tree.svg"),
    ]


def _json_links(top: Manifest, manifest: ImageManifest | None) -> list[JsonLink]:
    kind = "index" if isinstance(top, Index) else "manifest"
    links = [JsonLink(kind, top.digest, top.media_type, "manifest")]
    if manifest is not None:
        if manifest.digest != top.digest:
            links.append(
                JsonLink("platform manifest", manifest.digest, manifest.media_type, "manifest")
            )
        links.append(JsonLink("config", manifest.config.digest, manifest.config.media_type, "blob"))
    return links
