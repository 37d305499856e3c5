"""The sync config: a YAML file of defaults, per-registry settings and ``sync:`` rules.

::

    defaults:                       # for every rule, and the run's own settings
      jobs: 4                       # images at once
      ratelimit: {min: 50, action: wait}
      tags: {deny: ['-rc']}
    registries:
      docker.io: {jobs: 2, username-env: HUB_USER, password-env: HUB_TOKEN}
    sync:
      - source: docker.io/library/alpine          # a repository: its tags, selected
        target: mirror.example:5000/hub/alpine
        tags: {semver: '>=3.18', newest: 3}
      - source: registry.example:5000             # a registry: every repository
        target: mirror.example:5000               # the path kept ...
        strip-prefix: team/                       # ... less this prefix
        add-prefix: mirror/                       # ... with this one in front

:func:`load_config` reads a file (at most :data:`MAX_CONFIG_BYTES`) with ``yaml.safe_load``
and checks every key; an error names the file, the line and the key
(``sync.yaml:7: sync[0].tags.newest: want a whole number above 0, not -1``). Credentials never
go in the file: they come from hoist's and Docker's logins, or from the environment variables a
registry entry names (``username-env``/``password-env``).
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from hoist.errors import InvalidInput
from hoist.model.platform import Platform
from hoist.model.reference import ImageRef, LayoutReference, Reference, parse_reference

if TYPE_CHECKING:
    from hoist.config.credentials import Credentials
    from hoist.sync.cron import Cron
    from hoist.sync.select import SemverRange

__all__ = [
    "MAX_CONFIG_BYTES",
    "EnvCredentials",
    "InvalidSyncConfig",
    "RateLimitFloor",
    "RegistryRule",
    "RepositoryFilter",
    "Rule",
    "RuleKind",
    "Schedule",
    "SyncConfig",
    "TagRules",
    "load_config",
    "parse_config",
    "parse_duration",
    "render_backup",
]

MAX_CONFIG_BYTES = 1 << 20
"""A sync config is read only up to 1 MiB."""
MAX_NODES = 100_000
"""YAML nodes visited at most (aliases can make a small file a very large tree)."""

RuleKind = Literal["registry", "repository", "image"]
NewestBy = Literal["semver", "created"]
RateAction = Literal["wait", "stop"]

_SECRET_KEYS = frozenset({"password", "pass", "username", "user", "auth", "token", "creds"})
_TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(w|d|h|m|s)")
_UNITS = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
_BACKUP_FIELDS = frozenset({"tag", "date", "time", "digest"})


class InvalidSyncConfig(InvalidInput):
    """A sync config that does not parse or validate; ``str()`` names the file, line and key."""

    def __init__(self, message: str, *, where: str = "", line: int = 0, key: str = "") -> None:
        text = message
        if key:
            text = f"{key}: {text}"
        if where:
            text = f"{where}:{line}: {text}" if line else f"{where}: {text}"
        super().__init__(text)
        self.reason = message
        self.where = where
        self.line = line
        self.key = key


# -- values -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TagRules:
    """Which tags of a repository to mirror. Every rule given must hold (they filter in this
    order): ``allow`` (some pattern matches; none given: all), ``deny`` (no pattern matches),
    ``semver`` (the tag is a version in the range), ``since`` (created that recently), then
    ``newest`` (the N newest left, by version or by created time)."""

    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    semver: SemverRange | None = None
    newest: int | None = None
    newest_by: NewestBy = "semver"
    since: timedelta | None = None

    @property
    def needs_created(self) -> bool:
        """Whether choosing needs each candidate's created time (a manifest and config read)."""
        return self.since is not None or (self.newest is not None and self.newest_by == "created")


@dataclass(frozen=True)
class RepositoryFilter:
    """The repositories of a registry source: ``names`` listed (no catalog needed, as on
    Docker Hub), or the catalog's, kept by ``allow``/``deny`` patterns."""

    names: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    """One ``sync:`` entry with the defaults applied.

    ``kind`` says what ``source`` names: a whole registry, a repository (its tags, selected by
    ``tags``) or one image (a tag or a digest). ``target`` is a registry host (the source's path
    kept, less ``strip_prefix``, with ``add_prefix`` in front), a repository, or (for an image)
    an image. ``platforms`` None copies every platform; a tuple makes a new valid index of only
    those. ``backup`` is a tag template (``{tag}``, ``{date}``, ``{time}``, ``{digest}``) the old
    target is kept under before a tag is overwritten.
    """

    index: int
    source: str
    target: str
    kind: RuleKind
    target_is_registry: bool = False
    tags: TagRules = field(default_factory=TagRules)
    repositories: RepositoryFilter = field(default_factory=RepositoryFilter)
    strip_prefix: str = ""
    add_prefix: str = ""
    platforms: tuple[Platform, ...] | None = None
    referrers: bool = False
    digest_tags: bool = False
    backup: str | None = None
    line: int = 0

    @property
    def source_ref(self) -> ImageRef:
        return _ref_of(self.source)

    @property
    def target_names_image(self) -> bool:
        """Whether the target names a tag (one image's new name), not a repository."""
        return not self.target_is_registry and has_version(self.target)

    @property
    def target_ref(self) -> ImageRef | None:
        """The target as a reference (None when it is a registry host)."""
        return None if self.target_is_registry else _ref_of(self.target)

    def target_repository(self, source_repository: str) -> str:
        """The target repository for ``source_repository`` when the target is a registry."""
        path = source_repository
        if self.strip_prefix and path.startswith(self.strip_prefix):
            path = path[len(self.strip_prefix) :]
        return self.add_prefix + path

    def label(self) -> str:
        return f"sync[{self.index}]"


@dataclass(frozen=True)
class RegistryRule:
    """Per-registry settings of a sync: ``jobs`` (images at once touching this registry, the
    throttle) and the names of environment variables holding its login."""

    host: str
    jobs: int | None = None
    username_env: str | None = None
    password_env: str | None = None


@dataclass(frozen=True)
class RateLimitFloor:
    """What to do when a registry's remaining pull count (Docker Hub's ``ratelimit-remaining``)
    falls under ``min``: ``wait`` (look again every ``poll`` until ``max_wait`` has passed, then
    stop) or ``stop`` (copy nothing more from that registry). ``min`` 0 turns it off."""

    min: int = 0
    action: RateAction = "wait"
    poll: timedelta = timedelta(minutes=5)
    max_wait: timedelta = timedelta(hours=6)


@dataclass(frozen=True)
class Schedule:
    """When ``sync serve`` runs: every ``interval``, or at the times of ``cron``."""

    interval: timedelta | None = None
    cron: Cron | None = None

    def __str__(self) -> str:
        if self.cron is not None:
            return f"cron {self.cron}"
        return f"every {_show_duration(self.interval or timedelta())}"


@dataclass(frozen=True)
class SyncConfig:
    """A whole sync config: rules (defaults applied) and the run's settings."""

    rules: tuple[Rule, ...]
    registries: Mapping[str, RegistryRule] = field(default_factory=dict)
    jobs: int = 4
    concurrency: int = 4
    ratelimit: RateLimitFloor = field(default_factory=RateLimitFloor)
    schedule: Schedule | None = None
    journal: Path | None = None
    resume_within: timedelta = timedelta(hours=24)
    path: Path | None = None
    digest: str = ""
    """sha256 of the file's bytes: a journal resumes only under the same config."""

    def registry(self, host: str | None) -> RegistryRule | None:
        if host is None:
            return None
        from hoist.config.settings import normalize_host

        return self.registries.get(normalize_host(host))

    def credentials(self) -> EnvCredentials:
        """The logins the config names in the environment (others come from saved logins)."""
        return EnvCredentials(self.registries)

    def with_jobs(self, jobs: int) -> SyncConfig:
        return replace(self, jobs=jobs)


class EnvCredentials:
    """A credential provider reading the environment variables a config's registries name."""

    def __init__(self, registries: Mapping[str, RegistryRule]) -> None:
        self._registries = registries

    def get(self, host: str) -> Credentials | None:
        from hoist.config.credentials import Credentials, registry_key
        from hoist.config.settings import normalize_host

        key = registry_key(host)
        for name, rule in self._registries.items():
            if registry_key(name) != key and normalize_host(name) != normalize_host(host):
                continue
            if rule.username_env is None and rule.password_env is None:
                return None
            user = os.environ.get(rule.username_env or "", "")
            password = os.environ.get(rule.password_env or "", "")
            return Credentials(user, password) if user or password else None
        return None


# -- reading ------------------------------------------------------------------------------------


def load_config(path: str | os.PathLike[str]) -> SyncConfig:
    """Read and check the sync config at ``path`` (InvalidSyncConfig names what is wrong)."""
    where = Path(path)
    try:
        with where.open("rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise InvalidSyncConfig(f"cannot read: {exc.strerror or exc}", where=str(where)) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise InvalidSyncConfig(
            f"over the {MAX_CONFIG_BYTES >> 20} MiB limit for a sync config", where=str(where)
        )
    return parse_config(data, name=str(where), path=where)


def parse_config(
    text: str | bytes, *, name: str = "<config>", path: Path | None = None
) -> SyncConfig:
    """Check a sync config given as text; ``name`` is what errors call it."""
    import yaml

    raw = text.encode() if isinstance(text, str) else text
    if len(raw) > MAX_CONFIG_BYTES:
        raise InvalidSyncConfig(
            f"over the {MAX_CONFIG_BYTES >> 20} MiB limit for a sync config", where=name
        )
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidSyncConfig(f"not UTF-8 text ({exc.reason})", where=name) from None
    try:
        node = yaml.compose(decoded, Loader=yaml.SafeLoader)
        data = yaml.safe_load(decoded)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise InvalidSyncConfig(
            f"not valid YAML: {problem}", where=name, line=mark.line + 1 if mark else 0
        ) from None
    ctx = _Context(name)
    if node is not None:
        ctx.walk(node, ())
    if data is None:
        raise ctx.error((), "the config is empty: want a mapping with a sync: list")
    return _build(ctx, data, path, hashlib.sha256(raw).hexdigest())


class _Context:
    """Where each key and item is (line numbers from the composed YAML), and errors naming them."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lines: dict[tuple[str | int, ...], int] = {}
        self._nodes = 0

    def walk(self, node: Any, path: tuple[str | int, ...]) -> None:
        import yaml

        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise InvalidSyncConfig(
                f"more than {MAX_NODES} YAML nodes (aliases expanding?)", where=self.name
            )
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in node.value:
                if not isinstance(key, yaml.ScalarNode):
                    raise InvalidSyncConfig(
                        "keys must be plain names",
                        where=self.name,
                        line=key.start_mark.line + 1,
                        key=_show(path),
                    )
                name = str(key.value)
                if name == "<<":
                    self.walk(value, path)
                    continue
                if name in seen:
                    raise InvalidSyncConfig(
                        "given twice",
                        where=self.name,
                        line=key.start_mark.line + 1,
                        key=_show((*path, name)),
                    )
                seen.add(name)
                self.lines[(*path, name)] = key.start_mark.line + 1
                self.walk(value, (*path, name))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self.walk(item, (*path, i))

    def line(self, path: tuple[str | int, ...]) -> int:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 0)

    def error(self, path: tuple[str | int, ...], message: str) -> InvalidSyncConfig:
        return InvalidSyncConfig(message, where=self.name, line=self.line(path), key=_show(path))


def _show(path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


_Path = tuple[str | int, ...]


def _mapping(ctx: _Context, value: Any, path: _Path, known: Iterable[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ctx.error(path, f"want a mapping, not {_kind(value)}")
    known = list(known)
    for key in value:
        if not isinstance(key, str):
            raise ctx.error(path, f"keys must be names, not {_kind(key)} {key!r}")
        if key in known:
            continue
        if key.lower() in _SECRET_KEYS:
            raise ctx.error(
                (*path, key),
                "credentials never go in the sync config: log in with `hoist registry login` "
                "or `docker login`, or name environment variables with username-env and "
                "password-env under registries:",
            )
        hint = difflib.get_close_matches(key, known, n=1)
        more = f"; did you mean {hint[0]!r}?" if hint else f"; known: {', '.join(known)}"
        raise ctx.error((*path, key), f"unknown key{more}")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
    }.get(type(value), type(value).__name__)


def _string(ctx: _Context, value: Any, path: _Path, *, empty: bool = False) -> str:
    if not isinstance(value, str):
        hint = " (quote it)" if isinstance(value, int | float | bool) else ""
        raise ctx.error(path, f"want a string{hint}, not {_kind(value)} {value!r}")
    if not value.strip() and not empty:
        raise ctx.error(path, "must not be empty")
    return value


def _strings(ctx: _Context, value: Any, path: _Path) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list):
        raise ctx.error(path, f"want a string or a list of strings, not {_kind(value)}")
    return tuple(_string(ctx, v, (*path, i)) for i, v in enumerate(value))


def _patterns(ctx: _Context, value: Any, path: _Path) -> tuple[str, ...]:
    patterns = _strings(ctx, value, path)
    for i, p in enumerate(patterns):
        try:
            re.compile(p)
        except re.error as exc:
            raise ctx.error(
                (*path, i) if isinstance(value, list) else path,
                f"bad regular expression {p!r}: {exc}",
            ) from None
    return patterns


def _bool(ctx: _Context, value: Any, path: _Path) -> bool:
    if not isinstance(value, bool):
        raise ctx.error(path, f"want true or false, not {_kind(value)} {value!r}")
    return value


def _whole(ctx: _Context, value: Any, path: _Path, *, low: int = 1, high: int = 1 << 30) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ctx.error(path, f"want a whole number from {low} to {high}, not {value!r}")
    return value


def parse_duration(text: str) -> timedelta:
    """``30d``, ``1h30m``, ``90s``, ``2w`` (weeks, days, hours, minutes, seconds) as a timedelta;
    raises ValueError for anything else (a bare number is refused: say the unit)."""
    s = text.strip().lower().replace(" ", "")
    pos, seconds = 0, 0.0
    while pos < len(s):
        m = _DURATION.match(s, pos)
        if m is None:
            break
        seconds += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if not s or pos != len(s):
        raise ValueError(f"{text!r} is not a duration like 30d, 12h, 1h30m or 90s")
    return timedelta(seconds=seconds)


def _show_duration(d: timedelta) -> str:
    seconds = int(d.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _duration(ctx: _Context, value: Any, path: _Path, *, positive: bool = True) -> timedelta:
    if not isinstance(value, str):
        raise ctx.error(path, f"want a duration like 30d or 1h30m, not {_kind(value)} {value!r}")
    try:
        d = parse_duration(value)
    except ValueError as exc:
        raise ctx.error(path, str(exc)) from None
    if positive and d <= timedelta(0):
        raise ctx.error(path, "must be longer than 0")
    return d


def render_backup(template: str, *, tag: str, digest: str = "", now: float | None = None) -> str:
    """The backup tag ``template`` names for ``tag`` (``{date}`` is ``YYYYMMDD`` and ``{time}``
    ``HHMMSS``, UTC; ``{digest}`` the first 12 hex digits of the old digest)."""
    import time

    moment = time.gmtime(time.time() if now is None else now)
    hexpart = digest.split(":", 1)[-1][:12]
    return template.format(
        tag=tag,
        date=time.strftime("%Y%m%d", moment),
        time=time.strftime("%H%M%S", moment),
        digest=hexpart,
    )


def _backup(ctx: _Context, value: Any, path: _Path) -> str | None:
    if value is None or value is False:
        return None
    template = _string(ctx, value, path)
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        raise ctx.error(path, f"bad template {template!r}: {exc}") from None
    unknown = fields - _BACKUP_FIELDS
    if unknown or "" in fields:
        raise ctx.error(
            path,
            f"unknown field {{{sorted(unknown)[0] if unknown else ''}}} in {template!r}; "
            "use {tag}, {date}, {time}, {digest}",
        )
    if "tag" not in fields:
        raise ctx.error(path, f"{template!r} must hold {{tag}}: one backup per tag")
    sample = render_backup(template, tag="v1", digest="sha256:" + "0" * 64, now=0)
    if not _TAG_RE.fullmatch(sample):
        raise ctx.error(path, f"{template!r} does not make a valid tag (e.g. {sample!r})")
    return template


def _platforms(ctx: _Context, value: Any, path: _Path) -> tuple[Platform, ...] | None:
    if value is None or value == "all":
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise ctx.error(path, "want all, or a list of platforms like linux/amd64")
    out: list[Platform] = []
    for i, item in enumerate(items):
        text = _string(ctx, item, (*path, i) if isinstance(value, list) else path)
        try:
            out.append(Platform.parse(text))
        except ValueError as exc:
            raise ctx.error((*path, i) if isinstance(value, list) else path, str(exc)) from None
    return tuple(dict.fromkeys(out))


_TAG_KEYS = ("allow", "deny", "semver", "newest", "newest-by", "since")


def _tags(ctx: _Context, value: Any, path: _Path, base: TagRules) -> TagRules:
    from hoist.sync.select import SemverRange

    data = _mapping(ctx, value, path, _TAG_KEYS)
    rules = base
    if "allow" in data:
        rules = replace(rules, allow=_patterns(ctx, data["allow"], (*path, "allow")))
    if "deny" in data:
        rules = replace(rules, deny=_patterns(ctx, data["deny"], (*path, "deny")))
    if "semver" in data:
        text = data["semver"]
        if text is None:
            rules = replace(rules, semver=None)
        else:
            text = _string(ctx, text, (*path, "semver"))
            try:
                rules = replace(rules, semver=SemverRange.parse(text))
            except ValueError as exc:
                raise ctx.error((*path, "semver"), str(exc)) from None
    if "newest" in data:
        n = data["newest"]
        rules = replace(rules, newest=None if n is None else _whole(ctx, n, (*path, "newest")))
    if "newest-by" in data:
        by = data["newest-by"]
        if by not in ("semver", "created"):
            raise ctx.error((*path, "newest-by"), f"want semver or created, not {by!r}")
        rules = replace(rules, newest_by=by)
    if "since" in data:
        since = data["since"]
        rules = replace(
            rules, since=None if since is None else _duration(ctx, since, (*path, "since"))
        )
    return rules


def _repositories(ctx: _Context, value: Any, path: _Path) -> RepositoryFilter:
    if isinstance(value, list):
        names = tuple(_string(ctx, v, (*path, i)).strip("/") for i, v in enumerate(value))
        for i, name in enumerate(names):
            try:
                Reference("localhost", name)
            except ValueError as exc:
                raise ctx.error((*path, i), str(exc)) from None
        return RepositoryFilter(names=names)
    data = _mapping(ctx, value, path, ("allow", "deny"))
    return RepositoryFilter(
        allow=_patterns(ctx, data.get("allow", []), (*path, "allow")),
        deny=_patterns(ctx, data.get("deny", []), (*path, "deny")),
    )


def is_registry_host(text: str) -> bool:
    """Whether ``text`` names a registry alone (``reg.example``, ``127.0.0.1:5000``,
    ``localhost``), not a repository."""
    t = text.strip().rstrip("/")
    if not t or "/" in t or "@" in t or "://" in t:
        return False
    if not ("." in t or ":" in t or t == "localhost" or t.startswith("[")):
        return False
    try:
        Reference(t, "x")
    except ValueError:
        return False
    return True


def _ref_of(text: str) -> ImageRef:
    return parse_reference(text)


def has_version(text: str) -> bool:
    """Whether reference text names a tag or a digest (not only a repository)."""
    if "@" in text:
        return True
    if "://" in text:
        return LayoutReference.parse(text).tag is not None
    return ":" in text.rsplit("/", 1)[-1]


# -- building -----------------------------------------------------------------------------------

_RULE_KEYS = (
    "source",
    "target",
    "tags",
    "repositories",
    "strip-prefix",
    "add-prefix",
    "platforms",
    "referrers",
    "digest-tags",
    "backup",
)
_RUN_KEYS = ("jobs", "concurrency", "ratelimit", "schedule", "journal", "resume-within")
_DEFAULT_KEYS = (
    "tags",
    "platforms",
    "referrers",
    "digest-tags",
    "backup",
    "strip-prefix",
    "add-prefix",
    *_RUN_KEYS,
)


@dataclass(frozen=True)
class _Defaults:
    tags: TagRules = field(default_factory=TagRules)
    platforms: tuple[Platform, ...] | None = None
    referrers: bool = False
    digest_tags: bool = False
    backup: str | None = None
    strip_prefix: str = ""
    add_prefix: str = ""


def _build(ctx: _Context, data: Any, path: Path | None, digest: str) -> SyncConfig:
    top = _mapping(ctx, data, (), ("version", "defaults", "registries", "sync"))
    if "version" in top and top["version"] != 1:
        raise ctx.error(("version",), f"want 1, not {top['version']!r}")
    raw_defaults = _mapping(ctx, top.get("defaults") or {}, ("defaults",), _DEFAULT_KEYS)
    defaults = _Defaults()
    defaults = _rule_options(ctx, raw_defaults, ("defaults",), defaults)
    run: dict[str, Any] = {}
    if "jobs" in raw_defaults:
        run["jobs"] = _whole(ctx, raw_defaults["jobs"], ("defaults", "jobs"), high=256)
    if "concurrency" in raw_defaults:
        run["concurrency"] = _whole(
            ctx, raw_defaults["concurrency"], ("defaults", "concurrency"), high=64
        )
    if "ratelimit" in raw_defaults:
        run["ratelimit"] = _ratelimit(ctx, raw_defaults["ratelimit"], ("defaults", "ratelimit"))
    if "schedule" in raw_defaults:
        run["schedule"] = _schedule(ctx, raw_defaults["schedule"], ("defaults", "schedule"))
    if "journal" in raw_defaults:
        text = _string(ctx, raw_defaults["journal"], ("defaults", "journal"))
        journal = Path(os.path.expanduser(text))
        if not journal.is_absolute() and path is not None:
            journal = path.parent / journal
        run["journal"] = journal
    if "resume-within" in raw_defaults:
        run["resume_within"] = _duration(
            ctx, raw_defaults["resume-within"], ("defaults", "resume-within"), positive=False
        )
    registries = _registries(ctx, top.get("registries") or {}, ("registries",))
    if "sync" not in top:
        raise ctx.error((), "no sync: list of rules")
    items = top["sync"]
    if not isinstance(items, list) or not items:
        raise ctx.error(("sync",), "want a list of rules (source, target, ...)")
    rules = tuple(_rule(ctx, item, i, defaults) for i, item in enumerate(items))
    return SyncConfig(rules=rules, registries=registries, path=path, digest=digest, **run)


def _rule_options(
    ctx: _Context, data: Mapping[str, Any], path: _Path, base: _Defaults
) -> _Defaults:
    out = base
    if "tags" in data:
        out = replace(out, tags=_tags(ctx, data["tags"] or {}, (*path, "tags"), base.tags))
    if "platforms" in data:
        out = replace(out, platforms=_platforms(ctx, data["platforms"], (*path, "platforms")))
    if "referrers" in data:
        out = replace(out, referrers=_bool(ctx, data["referrers"], (*path, "referrers")))
    if "digest-tags" in data:
        out = replace(out, digest_tags=_bool(ctx, data["digest-tags"], (*path, "digest-tags")))
    if "backup" in data:
        out = replace(out, backup=_backup(ctx, data["backup"], (*path, "backup")))
    if "strip-prefix" in data:
        out = replace(out, strip_prefix=_prefix(ctx, data["strip-prefix"], (*path, "strip-prefix")))
    if "add-prefix" in data:
        out = replace(out, add_prefix=_prefix(ctx, data["add-prefix"], (*path, "add-prefix")))
    return out


def _prefix(ctx: _Context, value: Any, path: _Path) -> str:
    prefix = _string(ctx, value, path, empty=True).strip("/")
    if prefix:
        try:
            Reference("localhost", prefix)
        except ValueError as exc:
            raise ctx.error(path, f"{prefix!r} is not a repository path: {exc}") from None
    return f"{prefix}/" if prefix else ""


def _rule(ctx: _Context, item: Any, index: int, defaults: _Defaults) -> Rule:
    path: _Path = ("sync", index)
    for key in _RUN_KEYS:
        if isinstance(item, dict) and key in item:
            raise ctx.error((*path, key), "a setting of the whole run: put it under defaults:")
    data = _mapping(ctx, item, path, _RULE_KEYS)
    for key in ("source", "target"):
        if key not in data:
            raise ctx.error(path, f"no {key}")
    source = _string(ctx, data["source"], (*path, "source")).strip()
    target = _string(ctx, data["target"], (*path, "target")).strip()
    options = _rule_options(ctx, data, path, defaults)
    kind: RuleKind
    if is_registry_host(source):
        kind = "registry"
        source = source.rstrip("/")
    else:
        try:
            parse_reference(source)
        except ValueError as exc:
            raise ctx.error((*path, "source"), str(exc)) from None
        kind = "image" if has_version(source) else "repository"
    target_is_registry = is_registry_host(target)
    if target_is_registry:
        target = target.rstrip("/")
    else:
        try:
            ref = parse_reference(target)
        except ValueError as exc:
            raise ctx.error((*path, "target"), str(exc)) from None
        if ref.digest is not None:
            raise ctx.error((*path, "target"), "a target names no digest (it gets the source's)")
        if kind == "registry":
            raise ctx.error(
                (*path, "target"),
                "a registry source needs a registry target (a host: the paths are kept)",
            )
        if has_version(target) and kind != "image":
            raise ctx.error((*path, "target"), "a tag in the target needs one image as the source")
        if "strip-prefix" in data or "add-prefix" in data:
            raise ctx.error(
                (*path, "strip-prefix" if "strip-prefix" in data else "add-prefix"),
                "prefixes apply when the target is a registry host (the path kept)",
            )
    if "repositories" in data and kind != "registry":
        raise ctx.error((*path, "repositories"), "only a registry source has repositories")
    if "tags" in data and kind == "image":
        raise ctx.error((*path, "tags"), "an image source names its tag already")
    if target_is_registry and kind != "registry":
        src = parse_reference(source)
        if not isinstance(src, Reference):
            raise ctx.error(
                (*path, "target"), "a layout source needs a repository or layout as the target"
            )
    return Rule(
        index=index,
        source=source,
        target=target,
        kind=kind,
        target_is_registry=target_is_registry,
        tags=options.tags,
        repositories=_repositories(ctx, data["repositories"], (*path, "repositories"))
        if "repositories" in data
        else RepositoryFilter(),
        strip_prefix=options.strip_prefix,
        add_prefix=options.add_prefix,
        platforms=options.platforms,
        referrers=options.referrers,
        digest_tags=options.digest_tags,
        backup=options.backup,
        line=ctx.line(path),
    )


def _ratelimit(ctx: _Context, value: Any, path: _Path) -> RateLimitFloor:
    data = _mapping(ctx, value, path, ("min", "action", "poll", "max-wait"))
    floor = RateLimitFloor()
    if "min" in data:
        floor = replace(floor, min=_whole(ctx, data["min"], (*path, "min"), low=0))
    if "action" in data:
        action = data["action"]
        if action not in ("wait", "stop"):
            raise ctx.error((*path, "action"), f"want wait or stop, not {action!r}")
        floor = replace(floor, action=action)
    if "poll" in data:
        floor = replace(floor, poll=_duration(ctx, data["poll"], (*path, "poll")))
    if "max-wait" in data:
        floor = replace(
            floor, max_wait=_duration(ctx, data["max-wait"], (*path, "max-wait"), positive=False)
        )
    return floor


def _schedule(ctx: _Context, value: Any, path: _Path) -> Schedule:
    from hoist.sync.cron import Cron

    data = _mapping(ctx, value, path, ("interval", "cron"))
    if ("interval" in data) == ("cron" in data):
        raise ctx.error(path, "want one of interval (like 1h) or cron (like '0 */6 * * *')")
    if "interval" in data:
        interval = _duration(ctx, data["interval"], (*path, "interval"))
        if interval < timedelta(seconds=1):
            raise ctx.error((*path, "interval"), "must be at least 1s")
        return Schedule(interval=interval)
    text = _string(ctx, data["cron"], (*path, "cron"))
    try:
        return Schedule(cron=Cron.parse(text))
    except ValueError as exc:
        raise ctx.error((*path, "cron"), str(exc)) from None


def _registries(ctx: _Context, value: Any, path: _Path) -> dict[str, RegistryRule]:
    from hoist.config.settings import normalize_host

    data = _mapping(ctx, value, path, list(value) if isinstance(value, dict) else ())
    out: dict[str, RegistryRule] = {}
    for host, entry in data.items():
        where = (*path, host)
        if not is_registry_host(host) and host != "docker.io":
            raise ctx.error(where, "want a registry host like reg.example:5000")
        item = _mapping(ctx, entry or {}, where, ("jobs", "username-env", "password-env"))
        envs: dict[str, str | None] = {}
        for key in ("username-env", "password-env"):
            name = item.get(key)
            if name is not None:
                name = _string(ctx, name, (*where, key))
                if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                    raise ctx.error((*where, key), f"{name!r} is not an environment variable name")
            envs[key] = name
        out[normalize_host(host)] = RegistryRule(
            host=normalize_host(host),
            jobs=_whole(ctx, item["jobs"], (*where, "jobs"), high=256) if "jobs" in item else None,
            username_env=envs["username-env"],
            password_env=envs["password-env"],
        )
    return out


def single_rule(
    source: str,
    target: str,
    *,
    tags: TagRules | None = None,
    platforms: tuple[Platform, ...] | None = None,
    referrers: bool = False,
    digest_tags: bool = False,
    jobs: int = 4,
    concurrency: int = 4,
) -> SyncConfig:
    """A config of one repository rule made in code (``repo copy``), checked like a file's."""
    ctx = _Context("<repo copy>")
    rule = _rule(ctx, {"source": source, "target": target}, 0, _Defaults())
    rule = replace(
        rule,
        tags=tags or TagRules(),
        platforms=platforms,
        referrers=referrers,
        digest_tags=digest_tags,
    )
    return SyncConfig(rules=(rule,), jobs=jobs, concurrency=concurrency)


def tag_rules(allow: Iterable[str] = (), deny: Iterable[str] = ()) -> TagRules:
    """Tag rules of only ``allow``/``deny`` patterns, checked (InvalidInput for a bad one)."""
    for p in (*allow, *deny):
        try:
            re.compile(p)
        except re.error as exc:
            raise InvalidInput(f"bad regular expression {p!r}: {exc}") from None
    return TagRules(allow=tuple(allow), deny=tuple(deny))
