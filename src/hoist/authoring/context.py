"""The build context: a directory, less what ``.dockerignore`` excludes, matched like Docker.

``.dockerignore`` follows moby's patternmatcher: one pattern a line, ``#`` comments, ``!``
re-includes, ``*``/``?``/``[...]`` within a path component, ``**`` across components; a
pattern that matches a parent directory excludes everything under it; the last matching
pattern wins. ``<Dockerfile>.dockerignore`` next to the Dockerfile takes precedence.

COPY sources use Go's ``filepath.Match`` per component (``*``, ``?``, ``[...]``, ``\\``
escapes; ``**`` is an ordinary ``*``), as BuildKit does. Paths are context-relative with
``/`` separators; ``""`` is the context root.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from hoist.errors import InvalidInput

__all__ = ["BuildContext", "ContextEntry", "IgnoreMatcher", "go_match", "has_wildcards"]


def has_wildcards(text: str) -> bool:
    """Whether a path has ``*``, ``?`` or ``[`` that is not escaped."""
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] in "*?[":
            return True
        i += 1
    return False


@lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """Go's filepath.Match as a regex (``*`` and ``?`` never match ``/``)."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\":
            if i == n:
                raise InvalidInput(f"syntax error in pattern {pattern!r}")
            out.append(re.escape(pattern[i]))
            i += 1
        elif ch == "[":
            end = i
            if end < n and pattern[end] == "^":
                end += 1
            if end < n and pattern[end] == "]":
                end += 1
            while end < n and pattern[end] != "]":
                end += 2 if pattern[end] == "\\" else 1
            if end >= n:
                raise InvalidInput(f"syntax error in pattern {pattern!r}")
            body = pattern[i:end]
            negate = body.startswith("^")
            body = body[1:] if negate else body
            if not body:
                raise InvalidInput(f"syntax error in pattern {pattern!r}")
            chars = re.sub(r"\\(.)", lambda m: "\\" + m.group(1), body.replace("[", "\\["))
            out.append(f"[^/{chars}]" if negate else f"[{chars}]")
            i = end + 1
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def go_match(pattern: str, name: str) -> bool:
    """Go's ``filepath.Match(pattern, name)``: the whole name, ``*`` not crossing ``/``."""
    return _glob_regex(pattern).match(name) is not None


@dataclass(frozen=True, slots=True)
class _Pattern:
    regex: re.Pattern[str]
    exclusion: bool
    depth: int


def _ignore_regex(pattern: str) -> re.Pattern[str]:
    out = ["^"]
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            if i < n and pattern[i] == "*":
                i += 1
                if i < n and pattern[i] == "/":
                    i += 1
                out.append(".*" if i == n else "(.*/)?")
            else:
                out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\":
            out.append(re.escape(pattern[i]) if i < n else "\\\\")
            i += 1
        elif ch in ".+()|{}$":
            out.append("\\" + ch)
        else:
            out.append(ch)  # as moby's patternmatcher: '[', ']', '-', '^' keep their meaning
    try:
        return re.compile("".join(out) + "$", re.DOTALL)
    except re.error as exc:
        raise InvalidInput(f".dockerignore: bad pattern {pattern!r}: {exc}") from None


class IgnoreMatcher:
    """``.dockerignore`` patterns; :meth:`ignored` says whether a path is excluded."""

    def __init__(self, lines: list[str]) -> None:
        self.patterns: list[_Pattern] = []
        for line in lines:
            if line.startswith("#"):
                continue
            text = line.strip()
            if not text:
                continue
            exclusion = text.startswith("!")
            if exclusion:
                text = text[1:].strip()
            if not text:
                continue
            text = posixpath.normpath(text)
            if len(text) > 1 and text.startswith("/"):
                text = text.lstrip("/") or "/"
            self.patterns.append(_Pattern(_ignore_regex(text), exclusion, len(text.split("/"))))
        self.has_exclusions = any(p.exclusion for p in self.patterns)

    @classmethod
    def from_text(cls, text: str) -> IgnoreMatcher:
        return cls(text.removeprefix("\ufeff").splitlines())

    def ignored(self, path: str) -> bool:
        """Whether ``path`` (context-relative) is excluded: the last matching pattern wins."""
        parents = path.split("/")[:-1]
        matched = False
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue
            hit = pattern.regex.match(path) is not None
            if not hit:
                hit = any(
                    pattern.regex.match("/".join(parents[: i + 1])) is not None
                    for i in range(len(parents))
                )
            if hit:
                matched = not pattern.exclusion
        return matched


@dataclass(frozen=True, slots=True)
class ContextEntry:
    """A file, directory or symlink of the context: its relative path and where it is."""

    rel: str
    path: Path
    kind: str
    mode: int
    linkname: str = ""


class BuildContext:
    """A context directory seen through its ``.dockerignore``."""

    def __init__(self, root: str | os.PathLike[str], ignore: IgnoreMatcher | None = None) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise InvalidInput(f"build context {root} is not a directory")
        self.ignore = ignore or IgnoreMatcher([])

    @classmethod
    def open(cls, root: str | os.PathLike[str], dockerfile: Path | None = None) -> BuildContext:
        """The context at ``root`` with ``<Dockerfile>.dockerignore`` or ``.dockerignore``."""
        candidates = []
        if dockerfile is not None:
            candidates.append(dockerfile.with_name(dockerfile.name + ".dockerignore"))
        candidates.append(Path(root) / ".dockerignore")
        for candidate in candidates:
            if candidate.is_file():
                return cls(root, IgnoreMatcher.from_text(candidate.read_text()))
        return cls(root)

    @staticmethod
    def clean(path: str) -> str:
        """A source path made context-relative: ``/a/../b/`` -> ``b``; ``.`` -> ``""``."""
        return posixpath.normpath("/" + path).lstrip("/")

    def _entry(self, rel: str, path: Path) -> ContextEntry | None:
        try:
            st = path.lstat()
        except FileNotFoundError:
            return None
        mode = stat.S_IMODE(st.st_mode)
        if stat.S_ISLNK(st.st_mode):
            return ContextEntry(rel, path, "symlink", 0o777, os.readlink(path))
        if stat.S_ISDIR(st.st_mode):
            return ContextEntry(rel, path, "dir", mode)
        if stat.S_ISREG(st.st_mode):
            return ContextEntry(rel, path, "file", mode)
        raise InvalidInput(f"{rel}: only files, directories and symlinks can be copied")

    def _visible(self, entry: ContextEntry) -> bool:
        if not self.ignore.ignored(entry.rel):
            return True
        if entry.kind != "dir" or not self.ignore.has_exclusions:
            return False
        return any(True for _ in self.walk(entry))

    def lookup(self, rel: str) -> ContextEntry | None:
        """The entry at ``rel``, symlinks followed inside the context; None if absent/ignored."""
        rel = self.clean(rel)
        if not rel:
            return ContextEntry("", self.root, "dir", 0o755)
        entry = self._entry(rel, self.root / rel)
        if entry is None or not self._visible(entry):
            return None
        real = Path(os.path.realpath(self.root / rel))
        if real != self.root and self.root not in real.parents:
            raise InvalidInput(f"{rel}: a symlink points outside the build context")
        if entry.kind != "symlink":
            return ContextEntry(rel, real, entry.kind, entry.mode)
        target = self._entry(rel, real)
        return None if target is None else ContextEntry(rel, real, target.kind, target.mode)

    def walk(self, top: ContextEntry) -> Iterator[ContextEntry]:
        """Everything under directory ``top`` not ignored, sorted, parents first (``rel`` is
        relative to the context; symlinks are not followed)."""
        try:
            names = sorted(os.listdir(top.path))
        except OSError as exc:
            raise InvalidInput(f"{top.rel or '.'}: {exc.strerror}") from None
        for name in names:
            rel = f"{top.rel}/{name}" if top.rel else name
            entry = self._entry(rel, top.path / name)
            if entry is None:
                continue
            if not self.ignore.ignored(rel):
                yield entry
                if entry.kind == "dir":
                    yield from self.walk(entry)
            elif entry.kind == "dir" and self.ignore.has_exclusions:
                below = list(self.walk(entry))
                if below:
                    yield entry
                    yield from below

    def glob(self, pattern: str) -> list[ContextEntry]:
        """Entries matching a wildcard source path, sorted (component by component)."""
        parts = [p for p in self.clean(pattern).split("/") if p]
        found: list[ContextEntry] = [ContextEntry("", self.root, "dir", 0o755)]
        for part in parts:
            following: list[ContextEntry] = []
            for parent in found:
                if parent.kind != "dir":
                    continue
                try:
                    names = sorted(os.listdir(parent.path))
                except OSError:
                    continue
                for name in names:
                    if not go_match(part, name):
                        continue
                    rel = f"{parent.rel}/{name}" if parent.rel else name
                    entry = self._entry(rel, parent.path / name)
                    if entry is None or not self._visible(entry):
                        continue
                    if entry.kind == "symlink":
                        entry = self.lookup(rel) or entry
                    following.append(entry)
            found = following
        return found
