"""Deciding what a sync moves: each image missing, changed or up to date, and the bytes to move.

::

    plan = sync_plan(client, load_config("sync.yaml"))
    print(plan.summary)                      # 3 missing, 1 changed, 40 up to date, 12.1 MB
    Path("plan.json").write_text(plan.to_json())
    plan = Plan.from_json(Path("plan.json").read_text())   # applied as it is

The planner answers with tag lists and HEADs wherever they can: a source tag's digest comes from
a HEAD (free on Docker Hub, where a manifest GET counts as a pull), a target tag absent from the
target's tag list is missing without asking further, a present one is compared by HEAD. It reads
manifests and configs only for images that are missing or changed (to count their blobs), where a
rule needs created times (``since``, ``newest-by: created``), or where ``platforms`` makes a new
index whose digest it must know; it HEADs target blobs to count the bytes to move, and never
fetches a layer.

Each blob is counted once per target registry (a second repository of the registry gets it by a
mount) and not at all when the target already has it.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast, get_args

from hoist.copy import CopyOptions, blobs_needed, select_platforms
from hoist.errors import HoistError, InvalidInput, NotFound, Unsupported
from hoist.model import mediatype as mt
from hoist.model.digest import Digest
from hoist.model.manifest import Index
from hoist.model.platform import Platform
from hoist.model.reference import ImageRef, Reference, parse_reference
from hoist.parallel import parallel_map
from hoist.store.base import Cataloger
from hoist.sync.memory import RunMemory, repository_key

if TYPE_CHECKING:
    from hoist.client import Client
    from hoist.location import Location
    from hoist.model.descriptor import Descriptor
    from hoist.sync.config import Rule, SyncConfig

__all__ = [
    "MAX_PLAN_BYTES",
    "PLAN_VERSION",
    "ImageKind",
    "Plan",
    "PlanError",
    "PlanImage",
    "PlanSummary",
    "Status",
    "sync_plan",
]

PLAN_VERSION = 1
MAX_PLAN_BYTES = 256 << 20
"""A JSON plan is read only up to 256 MiB (about a million images)."""
LOOKUPS = 8
"""HEADs and manifest reads in flight per repository while planning."""

Status = Literal["missing", "changed", "up-to-date"]
ImageKind = Literal["tag", "digest", "digest-tag", "referrer"]
_STATUSES: tuple[str, ...] = get_args(Status)
_KINDS: tuple[str, ...] = get_args(ImageKind)
_DIGEST_TAG = re.compile(r"^(sha256|sha512)-([a-f0-9]{64}|[a-f0-9]{128})(\..+)?$")

T = TypeVar("T")


# -- the plan, as values ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanImage:
    """One image (a tag, or a manifest by digest) the sync keeps at a target.

    ``source`` and ``target`` are references (``reg/app:v1``, ``mirror/app@sha256:...``);
    ``digest`` is what the source names, ``result`` what the target will hold (another digest
    when ``platforms`` makes a new index), ``current`` what the target holds now. ``bytes`` and
    ``blobs`` are what this image moves that no image before it in the plan moves already.
    ``backup`` is the tag the current target image is kept under before it is overwritten.
    """

    rule: int
    kind: ImageKind
    source: str
    target: str
    status: Status
    digest: Digest
    media_type: str
    result: Digest
    current: Digest | None = None
    platforms: tuple[str, ...] | None = None
    size: int = 0
    """The size of the manifest ``result`` names."""
    bytes: int = 0
    blobs: int = 0
    backup: str | None = None

    @property
    def pending(self) -> bool:
        """Whether applying the plan changes this image at the target."""
        return self.status != "up-to-date"

    @property
    def source_ref(self) -> ImageRef:
        """The source, pinned to the digest the plan saw."""
        return parse_reference(self.source).with_digest(self.digest)

    @property
    def target_ref(self) -> ImageRef:
        return parse_reference(self.target)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "kind": self.kind,
            "source": self.source,
            "target": self.target,
            "status": self.status,
            "digest": str(self.digest),
            "mediaType": self.media_type,
            "result": str(self.result),
            "current": None if self.current is None else str(self.current),
            "platforms": None if self.platforms is None else list(self.platforms),
            "size": self.size,
            "bytes": self.bytes,
            "blobs": self.blobs,
            "backup": self.backup,
        }

    @classmethod
    def from_dict(cls, obj: Any, where: str) -> PlanImage:
        if not isinstance(obj, dict):
            raise InvalidInput(f"{where}: want an object")
        rule = _field(obj, "rule", int, where)
        kind = _field(obj, "kind", str, where)
        status = _field(obj, "status", str, where)
        if kind not in _KINDS:
            raise InvalidInput(f"{where}: kind {kind!r} is not one of {', '.join(_KINDS)}")
        if status not in _STATUSES:
            raise InvalidInput(f"{where}: status {status!r} is not one of {', '.join(_STATUSES)}")
        platforms = obj.get("platforms")
        if platforms is not None and (
            not isinstance(platforms, list) or not all(isinstance(p, str) for p in platforms)
        ):
            raise InvalidInput(f"{where}: platforms must be null or a list of strings")
        current = obj.get("current")
        backup = obj.get("backup")
        if backup is not None and not isinstance(backup, str):
            raise InvalidInput(f"{where}: backup must be null or a tag")
        try:
            for key in ("source", "target"):
                parse_reference(_field(obj, key, str, where))
            if platforms is not None:
                for p in platforms:
                    Platform.parse(p)
            image = cls(
                rule=rule,
                kind=cast(ImageKind, kind),
                source=obj["source"],
                target=obj["target"],
                status=cast(Status, status),
                digest=Digest.parse(_field(obj, "digest", str, where)),
                media_type=_field(obj, "mediaType", str, where),
                result=Digest.parse(_field(obj, "result", str, where)),
                current=None
                if current is None
                else Digest.parse(_field(obj, "current", str, where)),
                platforms=None if platforms is None else tuple(platforms),
                size=_field(obj, "size", int, where, 0),
                bytes=_field(obj, "bytes", int, where, 0),
                blobs=_field(obj, "blobs", int, where, 0),
                backup=backup,
            )
        except ValueError as exc:
            raise InvalidInput(f"{where}: {exc}") from None
        return image


def _field(obj: Mapping[str, Any], key: str, kind: type[T], where: str, default: Any = ...) -> T:
    if key not in obj:
        if default is not ...:
            return cast(T, default)
        raise InvalidInput(f"{where}: no {key}")
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise InvalidInput(f"{where}: {key} must be a {kind.__name__}")
    return value


@dataclass(frozen=True)
class PlanError:
    """A source the planner could not read (the rest of the plan stands)."""

    rule: int
    source: str
    error: str

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "source": self.source, "error": self.error}

    @classmethod
    def from_dict(cls, obj: Any, where: str) -> PlanError:
        if not isinstance(obj, dict):
            raise InvalidInput(f"{where}: want an object")
        return cls(
            _field(obj, "rule", int, where),
            _field(obj, "source", str, where),
            _field(obj, "error", str, where),
        )


@dataclass(frozen=True)
class PlanSummary:
    """Counts of a plan: images by status, errors, the copies (one per target repository and
    digest, however many tags name it), blobs and bytes to move."""

    images: int
    missing: int
    changed: int
    up_to_date: int
    errors: int
    copies: int
    blobs: int
    bytes: int

    def to_dict(self) -> dict[str, int]:
        return {
            "images": self.images,
            "missing": self.missing,
            "changed": self.changed,
            "up_to_date": self.up_to_date,
            "errors": self.errors,
            "copies": self.copies,
            "blobs": self.blobs,
            "bytes": self.bytes,
        }


@dataclass(frozen=True)
class Plan:
    """What a sync will do, image by image; JSON both ways (:meth:`to_json`, :meth:`from_json`)."""

    images: tuple[PlanImage, ...]
    errors: tuple[PlanError, ...] = ()
    config: str | None = None
    config_digest: str = ""
    created: str = ""

    @property
    def pending(self) -> tuple[PlanImage, ...]:
        return tuple(i for i in self.images if i.pending)

    @property
    def id(self) -> str:
        """A digest of what the plan does (images and errors): two plans with one id do the same."""
        body = {
            "images": [i.to_dict() for i in self.images],
            "errors": [e.to_dict() for e in self.errors],
        }
        text = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()

    @property
    def summary(self) -> PlanSummary:
        count = {s: 0 for s in _STATUSES}
        for i in self.images:
            count[i.status] += 1
        copies = {(repository_key(i.target_ref), i.result) for i in self.images if i.pending}
        return PlanSummary(
            images=len(self.images),
            missing=count["missing"],
            changed=count["changed"],
            up_to_date=count["up-to-date"],
            errors=len(self.errors),
            copies=len(copies),
            blobs=sum(i.blobs for i in self.images),
            bytes=sum(i.bytes for i in self.images),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": PLAN_VERSION,
            "id": self.id,
            "config": self.config,
            "configDigest": self.config_digest,
            "created": self.created,
            "summary": self.summary.to_dict(),
            "images": [i.to_dict() for i in self.images],
            "errors": [e.to_dict() for e in self.errors],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, obj: Any, where: str = "plan") -> Plan:
        """A plan from its JSON object (InvalidInput names the entry that is wrong); an ``id``
        given must match the content."""
        if not isinstance(obj, dict):
            raise InvalidInput(f"{where}: want a JSON object")
        if obj.get("version") != PLAN_VERSION:
            raise InvalidInput(f"{where}: version {obj.get('version')!r}; want {PLAN_VERSION}")
        images = obj.get("images")
        errors = obj.get("errors", [])
        if not isinstance(images, list) or not isinstance(errors, list):
            raise InvalidInput(f"{where}: images and errors must be lists")
        config = obj.get("config")
        plan = cls(
            images=tuple(
                PlanImage.from_dict(item, f"{where}: images[{n}]") for n, item in enumerate(images)
            ),
            errors=tuple(
                PlanError.from_dict(item, f"{where}: errors[{n}]") for n, item in enumerate(errors)
            ),
            config=config if isinstance(config, str) else None,
            config_digest=str(obj.get("configDigest") or ""),
            created=str(obj.get("created") or ""),
        )
        given = obj.get("id")
        if given is not None and given != plan.id:
            raise InvalidInput(f"{where}: id {given} does not match its images (edited?)")
        return plan

    @classmethod
    def from_json(cls, text: str | bytes, where: str = "plan") -> Plan:
        from hoist.model.jsonvalue import parse_json

        raw = text.encode() if isinstance(text, str) else text
        if len(raw) > MAX_PLAN_BYTES:
            raise InvalidInput(f"{where}: over the {MAX_PLAN_BYTES >> 20} MiB limit for a plan")
        return cls.from_dict(parse_json(raw, what=where, max_size=MAX_PLAN_BYTES), where)


# -- planning -----------------------------------------------------------------------------------


def sync_plan(
    client: Client,
    config: SyncConfig,
    *,
    memory: RunMemory | None = None,
    now: datetime | None = None,
) -> Plan:
    """Decide what ``config`` moves (see the module docstring). ``memory`` keeps what was read
    for an apply in the same run; ``now`` is the time ``since`` counts from."""
    planner = _Planner(client, config, memory or RunMemory(), now or datetime.now(UTC))
    return planner.run()


@dataclass
class _Pair:
    """A source repository and its target, with what to take from it."""

    rule: Rule
    source: ImageRef  # the repository (no tag), or the one image
    target: ImageRef  # the repository (no tag), or the one image
    fixed: bool = False  # one image, not the repository's tags


@dataclass
class _Found:
    images: list[PlanImage] = field(default_factory=list)
    errors: list[PlanError] = field(default_factory=list)
    subjects: dict[int, set[Digest]] = field(default_factory=dict)


class _Planner:
    def __init__(
        self, client: Client, config: SyncConfig, memory: RunMemory, now: datetime
    ) -> None:
        self.client = client
        self.config = config
        self.memory = memory
        self.now = now
        self._heads: dict[str, Descriptor] = {}
        self._created: dict[tuple[str, Digest], datetime | None] = {}
        self._flights: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def at(self, ref: ImageRef) -> Location:
        return self.memory.location(self.client, ref)

    def run(self) -> Plan:
        pairs: list[_Pair] = []
        errors: list[PlanError] = []
        for rule in self.config.rules:
            try:
                pairs += self._pairs(rule)
            except HoistError as exc:
                errors.append(PlanError(rule.index, rule.source, str(exc)))
        jobs = max(1, min(self.config.jobs, len(pairs) or 1))
        found = parallel_map(self._pair, pairs, jobs, name="hoist-plan")
        images: list[PlanImage] = []
        for f in found:
            images += f.images
            errors += f.errors
        images, broken = self._count_bytes(images)
        errors += broken
        from hoist.sync.config import render_backup

        moment = self.now.timestamp()
        rules = {r.index: r for r in self.config.rules}
        images = [
            replace(
                i,
                backup=render_backup(
                    rules[i.rule].backup or "",
                    tag=i.target_ref.tag or "",
                    digest=str(i.current),
                    now=moment,
                ),
            )
            if i.status == "changed" and rules[i.rule].backup and i.target_ref.tag
            else i
            for i in images
        ]
        return Plan(
            images=tuple(images),
            errors=tuple(errors),
            config=None if self.config.path is None else str(self.config.path),
            config_digest=self.config.digest,
            created=self.now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )

    # -- what to look at ------------------------------------------------------------------------

    def _pairs(self, rule: Rule) -> list[_Pair]:
        if rule.kind == "registry":
            return self._registry_pairs(rule)
        source = rule.source_ref
        if rule.kind == "repository":
            src_repo = source.with_tag(None)
            if rule.target_is_registry:
                assert isinstance(source, Reference)
                dst: ImageRef = Reference(rule.target, rule.target_repository(source.repository))
            else:
                target = rule.target_ref
                assert target is not None
                dst = target.with_tag(None)
            return [_Pair(rule, src_repo, dst)]
        # one image: a tag, a digest, or both
        if rule.target_is_registry:
            assert isinstance(source, Reference)
            dst = Reference(rule.target, rule.target_repository(source.repository), source.tag)
            if source.tag is None and source.digest is not None:
                dst = dst.by_digest(source.digest)
        else:
            target = rule.target_ref
            assert target is not None
            if rule.target_names_image:
                dst = target
            elif source.tag is None and source.digest is not None:
                dst = target.by_digest(source.digest)  # a digest alone: pinned at the target
            else:
                dst = target.with_tag(source.tag)
        if source.digest is None and source.tag is None:
            source = source.with_tag("latest")
        return [_Pair(rule, source, dst, fixed=True)]

    def _registry_pairs(self, rule: Rule) -> list[_Pair]:
        from hoist.tags import tag_filter

        names = list(rule.repositories.names)
        if not names:
            catalog = self.at(Reference(rule.source, "catalog"))
            store = catalog.store
            try:
                if not isinstance(store, Cataloger):
                    raise Unsupported(f"{rule.source} has no catalog")
                names = store.repo_list(catalog.ref)
            except Unsupported:
                raise Unsupported(
                    f"{rule.source} cannot list its repositories: name them under repositories:"
                ) from None
        names = tag_filter(sorted(set(names)), rule.repositories.allow, rule.repositories.deny)
        return [
            _Pair(
                rule,
                Reference(rule.source, name),
                Reference(rule.target, rule.target_repository(name)),
            )
            for name in names
        ]

    # -- one repository -------------------------------------------------------------------------

    def _pair(self, pair: _Pair) -> _Found:
        found = _Found()
        rule = pair.rule
        src, dst = self.at(pair.source), self.at(pair.target)
        try:
            src_tags: list[str] = [] if pair.fixed else src.tag_list()
        except HoistError as exc:
            found.errors.append(PlanError(rule.index, str(pair.source), str(exc)))
            return found
        try:
            target_tags: set[str] = set(dst.with_tag(None).tag_list())
        except NotFound:
            target_tags = set()
        except (Unsupported, HoistError) as exc:
            found.errors.append(PlanError(rule.index, str(pair.source), f"target: {exc}"))
            return found
        if pair.fixed:
            kind: ImageKind = "tag" if pair.source.tag is not None and pair.target.tag else "digest"
            entries: list[tuple[Location, Location, ImageKind]] = [(src, dst, kind)]
        else:
            from hoist.sync.select import select_tags

            try:
                chosen = select_tags(
                    src_tags,
                    rule.tags,
                    lambda tags: self._created_times(src, tags),
                    now=self.now,
                )
            except HoistError as exc:
                found.errors.append(PlanError(rule.index, str(pair.source), str(exc)))
                return found
            entries = [(src.with_tag(t), dst.with_tag(t), "tag") for t in chosen]
        decided = self._decide(rule, entries, target_tags, found)
        # Extras follow the images they belong to: digest tags and referrers.
        subjects: set[Digest] = set()
        for _, subject_set in decided:
            subjects |= subject_set
        if rule.digest_tags and subjects:
            tags = src_tags or self._tags_quietly(src)
            wanted = {f"{d.algorithm}-{d.hex}" for d in subjects}
            extra: list[tuple[Location, Location, ImageKind]] = []
            for t in tags:
                m = _DIGEST_TAG.match(t)
                if not m or f"{m.group(1)}-{m.group(2)}" not in wanted:
                    continue
                if rule.referrers and m.group(3) is None:
                    continue  # the referrers fallback tag: kept by the referrers themselves
                extra.append((src.with_tag(t), dst.with_tag(t), "digest-tag"))
            self._decide(rule, extra, target_tags, found, platforms=False)
        if rule.referrers and subjects:
            self._referrers(rule, src, dst, subjects, found)
        return found

    def _tags_quietly(self, src: Location) -> list[str]:
        try:
            return src.with_tag(None).tag_list()
        except HoistError:
            return []

    def _decide(
        self,
        rule: Rule,
        entries: Sequence[tuple[Location, Location, ImageKind]],
        target_tags: set[str],
        found: _Found,
        *,
        platforms: bool = True,
    ) -> list[tuple[PlanImage, set[Digest]]]:
        wanted = rule.platforms if platforms else None

        def one(
            entry: tuple[Location, Location, ImageKind],
        ) -> tuple[PlanImage, set[Digest]] | PlanError:
            src, dst, kind = entry
            try:
                return self._image(rule, src, dst, kind, target_tags, wanted)
            except HoistError as exc:
                return PlanError(rule.index, str(src.ref), str(exc))

        out = []
        for item in parallel_map(one, entries, LOOKUPS, name="hoist-plan"):
            if isinstance(item, PlanError):
                found.errors.append(item)
            else:
                found.images.append(item[0])
                out.append(item)
        return out

    def _image(
        self,
        rule: Rule,
        src: Location,
        dst: Location,
        kind: ImageKind,
        target_tags: set[str],
        platforms: tuple[Platform, ...] | None,
    ) -> tuple[PlanImage, set[Digest]]:
        head = self._head(src)
        pinned = src.by_digest(head.digest)
        result, size = head.digest, head.size
        subjects = {head.digest}
        if platforms and mt.is_index(head.media_type):
            top = select_platforms(pinned.manifest_get(), platforms)
            result, size = top.digest, top.size
            if isinstance(top, Index):
                subjects = {d.digest for d in top.manifests}
        current: Digest | None = None
        if dst.digest is not None or dst.tag is None:
            target = dst.by_digest(result)
            try:
                current = target.manifest_head().digest
            except NotFound:
                current = None
        else:
            target = dst
            if dst.tag in target_tags:
                try:
                    current = dst.manifest_head().digest
                except NotFound:
                    current = None
            else:
                self.memory.absent_tag(dst.ref)
        status: Status = (
            "missing" if current is None else "up-to-date" if current == result else "changed"
        )
        source_text = str(src.ref.with_digest(None)) if src.tag else str(pinned.ref)
        image = PlanImage(
            rule=rule.index,
            kind=kind,
            source=source_text,
            target=str(target.ref),
            status=status,
            digest=head.digest,
            media_type=head.media_type,
            result=result,
            current=current,
            platforms=None if not platforms else tuple(str(p) for p in platforms),
            size=size,
        )
        return image, subjects

    def _head(self, src: Location) -> Descriptor:
        """The source's descriptor: one HEAD per reference, however many rules ask."""
        key = str(src.ref)
        with self._lock:
            flight = self._flights.setdefault(key, threading.Lock())
        with flight:
            with self._lock:
                known = self._heads.get(key)
            if known is not None:
                return known
            desc = src.manifest_head()
            with self._lock:
                self._heads[key] = desc
            return desc

    def _referrers(
        self, rule: Rule, src: Location, dst: Location, subjects: set[Digest], found: _Found
    ) -> None:
        seen: set[Digest] = set()
        todo = sorted(subjects, key=str)
        while todo:
            subject = todo.pop(0)
            try:
                descs = src.by_digest(subject).referrers_list()
            except (Unsupported, NotFound):
                continue
            except HoistError as exc:
                found.errors.append(
                    PlanError(
                        rule.index, f"{repository_key(src.ref)}@{subject}", f"referrers: {exc}"
                    )
                )
                continue
            entries: list[tuple[Location, Location, ImageKind]] = []
            for desc in sorted(descs, key=lambda d: str(d.digest)):
                if desc.digest in seen or desc.digest in subjects:
                    continue
                seen.add(desc.digest)
                entries.append(
                    (
                        src.by_digest(desc.digest),
                        dst.by_digest(desc.digest),
                        "referrer",
                    )
                )
                todo.append(desc.digest)
            self._decide(rule, entries, set(), found, platforms=False)

    # -- created times --------------------------------------------------------------------------

    def _created_times(self, src: Location, tags: Sequence[str]) -> dict[str, datetime | None]:
        def one(tag: str) -> tuple[str, datetime | None]:
            loc = src.with_tag(tag)
            try:
                head = self._head(loc)
                return tag, self._created_of(loc.by_digest(head.digest))
            except NotFound:
                return tag, None

        return dict(parallel_map(one, tags, LOOKUPS, name="hoist-plan"))

    def _created_of(self, loc: Location) -> datetime | None:
        """When the image ``loc`` pins was created (:func:`hoist.tag_query.image_created`),
        asked once per digest and repository in a run."""
        from hoist.tag_query import image_created

        assert loc.digest is not None
        key = (repository_key(loc.ref), loc.digest)
        with self._lock:
            if key in self._created:
                return self._created[key]
        when = image_created(loc)
        with self._lock:
            self._created[key] = when
        return when

    # -- bytes ----------------------------------------------------------------------------------

    def _count_bytes(self, images: list[PlanImage]) -> tuple[list[PlanImage], list[PlanError]]:
        """Blobs and bytes each pending image moves that no image before it moves."""
        pending = [i for i in images if i.pending]

        def blobs_of(image: PlanImage) -> list[Descriptor] | PlanError:
            try:
                return _blobs(self.at(image.source_ref), image.platforms)
            except HoistError as exc:
                return PlanError(image.rule, image.source, str(exc))

        lists = dict(
            zip(
                [id(i) for i in pending],
                parallel_map(blobs_of, pending, LOOKUPS, name="hoist-plan"),
                strict=True,
            )
        )
        errors: list[PlanError] = []
        owner: dict[tuple[str, Digest], int] = {}
        asks: list[tuple[int, PlanImage, Descriptor]] = []
        for n, image in enumerate(images):
            blobs = lists.get(id(image))
            if blobs is None:
                continue
            if isinstance(blobs, PlanError):
                errors.append(blobs)
                continue
            src, dst = image.source_ref, image.target_ref
            home = dst.host if dst.host is not None else repository_key(dst)
            for desc in blobs:
                key = (home, desc.digest)
                if key in owner:
                    continue  # moved (or mounted) by an image before this one
                owner[key] = n
                if src.host is not None and src.host == dst.host:
                    continue  # the same registry: a mount
                asks.append((n, image, desc))

        def missing(ask: tuple[int, PlanImage, Descriptor]) -> bool:
            _, image, desc = ask
            try:
                self.at(image.target_ref).blob_head(desc.digest)
                return False
            except NotFound:
                return True

        moved: dict[int, tuple[int, int]] = {}
        for (n, _, desc), absent in zip(
            asks, parallel_map(missing, asks, LOOKUPS, name="hoist-plan"), strict=True
        ):
            if absent:
                blobs_n, bytes_n = moved.get(n, (0, 0))
                moved[n] = (blobs_n + 1, bytes_n + desc.size)
        broken = {id(i) for i in pending if isinstance(lists.get(id(i)), PlanError)}
        out = []
        for n, image in enumerate(images):
            if id(image) in broken:
                continue
            blobs_n, bytes_n = moved.get(n, (0, 0))
            out.append(replace(image, blobs=blobs_n, bytes=bytes_n))
        return out, errors


def _blobs(src: Location, platforms: Sequence[str] | None) -> list[Descriptor]:
    """The blobs a copy of ``src`` (pinned by digest) needs at its target, in order, each once."""
    options = CopyOptions(platforms=platforms or ())
    return blobs_needed(src, select_platforms(src.manifest_get(), options.platforms), options)
