"""Paths inside an image: entry names made safe, whiteout names, symlinks resolved in a root.

Names are kept normalised: relative to the image root, no leading ``/``, no ``.`` or empty
components; ``""`` is the root itself. A name with ``..`` or a leading ``/`` is refused.

Symlinks are resolved the way a container sees them: an absolute target starts again at the
image root (never the host's), a relative one from the link's directory. A target that
climbs above the root with ``..`` is refused rather than clamped, since no genuine image
needs it, and more than 40 links in one lookup is a loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from hoist.errors import InvalidLayer, UnsafeLayer

__all__ = [
    "MAX_SYMLINKS",
    "OPAQUE",
    "WHITEOUT_PREFIX",
    "Lookup",
    "climbs_out",
    "display",
    "join",
    "normalize",
    "resolve",
    "split",
    "whiteout_target",
]

WHITEOUT_PREFIX = ".wh."
"""A file ``DIR/.wh.NAME`` deletes ``DIR/NAME`` (and everything under it) in lower layers."""
OPAQUE = ".wh..wh..opq"
"""A file ``DIR/.wh..wh..opq`` hides everything lower layers put in ``DIR``."""
MAX_SYMLINKS = 40
"""Symlinks followed in one lookup before it counts as a loop (Linux's limit)."""

Lookup = Callable[[tuple[str, ...]], tuple[str | None, str]]
"""``lookup(parts) -> (kind, link_target)``: kind is ``dir``, ``symlink``, another entry kind,
or None when nothing is there; the target matters for symlinks only."""


def normalize(name: str, *, what: str = "entry") -> str:
    """The safe form of a tar member name; UnsafeLayer for absolute names and ``..``."""
    if "\0" in name:
        raise UnsafeLayer(f"{what} {name!r} contains a NUL character", name)
    if name.startswith("/"):
        raise UnsafeLayer(f"{what} {name!r} has an absolute path", name)
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeLayer(f"{what} {name!r} climbs out with '..'", name)
    return "/".join(parts)


def climbs_out(parent: Sequence[str], target: str) -> bool:
    """Whether a symlink in directory ``parent`` (resolved components) pointing at ``target``
    climbs above the image root, judged from the target's own components (no other link
    followed): an absolute target starts at the root, a relative one at ``parent``."""
    depth = 0 if target.startswith("/") else len(parent)
    for comp in target.split("/"):
        if comp == "..":
            depth -= 1
            if depth < 0:
                return True
        elif comp not in ("", "."):
            depth += 1
    return False


def split(path: str) -> tuple[str, str]:
    """``(parent, basename)`` of a normalised path."""
    parent, _, base = path.rpartition("/")
    return parent, base


def join(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name


def display(path: str) -> str:
    """A normalised path as a container sees it: ``/etc/os-release``."""
    return "/" + path


def whiteout_target(path: str) -> tuple[str, str] | None:
    """For a whiteout file: ``("opaque", dir)`` or ``("whiteout", deleted path)``; else None.

    ``.wh..wh.*`` names other than the opaque marker are AUFS bookkeeping and are ignored:
    the caller skips entries for which this returns ``("ignore", path)``.
    """
    parent, base = split(path)
    if not base.startswith(WHITEOUT_PREFIX):
        return None
    if base == OPAQUE:
        return "opaque", parent
    if base.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):
        return "ignore", path
    target = base[len(WHITEOUT_PREFIX) :]
    if target in ("", ".", ".."):
        raise UnsafeLayer(f"whiteout {path!r} names no file", path)
    return "whiteout", join(parent, target)


def resolve(
    parts: Sequence[str], lookup: Lookup, *, follow_last: bool, name: str = ""
) -> tuple[str, ...]:
    """Resolve ``parts`` in a root through its symlinks; the resolved components.

    Intermediate components must be directories or missing (the caller may create them);
    the last is followed only with ``follow_last``. Raises UnsafeLayer when a link climbs
    above the root or links loop, InvalidLayer when a component is not a directory.
    """
    label = name or "/".join(parts)
    out: list[str] = []
    todo = [p for p in reversed(parts) if p not in ("", ".")]
    links = 0
    while todo:
        comp = todo.pop()
        if comp == "..":
            if not out:
                raise UnsafeLayer(f"{display(label)}: a symlink points above the image root", label)
            out.pop()
            continue
        candidate = (*out, comp)
        last = not todo
        kind, target = lookup(candidate)
        if kind == "symlink" and (follow_last or not last):
            links += 1
            if links > MAX_SYMLINKS:
                raise UnsafeLayer(
                    f"{display(label)}: too many levels of symbolic links (a link loop?)", label
                )
            if target.startswith("/"):
                out = []
            todo.extend(p for p in reversed(target.split("/")) if p not in ("", "."))
            continue
        if not last and kind not in (None, "dir"):
            raise InvalidLayer(
                f"{display(label)}: {display('/'.join(candidate))} is not a directory"
            )
        out.append(comp)
    return tuple(out)
