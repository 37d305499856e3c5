"""The filesystem an image's layers make together, built from their listings, in memory.

Layers apply in order, each as the OCI layer spec says: its whiteouts and opaque markers
first, against the layers below only, then its entries, where a directory over a directory
keeps the children and anything else replaces what was there. Parent paths resolve through
symlinks inside the image, as unpacking does, so the view matches an unpacked directory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from hoist.errors import InvalidLayer
from hoist.layers.entries import Entry, LayerListing
from hoist.layers.paths import display, join, resolve, split

__all__ = ["FileTree"]


class _Node:
    __slots__ = ("children", "entry")

    def __init__(self, entry: Entry | None, children: dict[str, _Node] | None) -> None:
        self.entry = entry  # None for a directory no layer has an entry for
        self.children = children  # None for anything but a directory


def _parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p not in ("", ".")]


class FileTree:
    """A merged filesystem view: the top-most layer wins, deletions respected."""

    def __init__(self) -> None:
        self._root = _Node(Entry("", "dir", mode=0o755), {})
        self.layers = 0

    @classmethod
    def from_listings(cls, listings: Iterable[LayerListing | Iterable[Entry]]) -> FileTree:
        tree = cls()
        for listing in listings:
            tree.apply(listing)
        return tree

    # -- lookups ---------------------------------------------------------------------------

    def _node(self, parts: Iterable[str]) -> _Node | None:
        node = self._root
        for comp in parts:
            if node.children is None:
                return None
            child = node.children.get(comp)
            if child is None:
                return None
            node = child
        return node

    def _lookup(self, parts: tuple[str, ...]) -> tuple[str | None, str]:
        node = self._node(parts)
        if node is None:
            return None, ""
        if node.children is not None:
            return "dir", ""
        assert node.entry is not None
        return node.entry.kind, node.entry.linkname

    def resolve(self, path: str, *, follow: bool = True) -> str:
        """The path ``path`` names after symlinks (inside the image); it may not exist."""
        return "/".join(resolve(_parts(path), self._lookup, follow_last=follow, name=path))

    def get(self, path: str, *, follow: bool = True) -> Entry | None:
        """The entry at ``path`` (``/etc/passwd`` or ``etc/passwd``), symlinks followed."""
        resolved = self.resolve(path, follow=follow)
        node = self._node(_parts(resolved))
        if node is None:
            return None
        return node.entry or Entry(resolved, "dir", mode=0o755)

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and self._node(_parts(path)) is not None

    def walk(self) -> Iterator[Entry]:
        """Every entry, sorted by path, parents before children (the root left out)."""
        stack: list[tuple[str, _Node]] = [("", self._root)]
        while stack:
            path, node = stack.pop()
            if path:
                yield node.entry or Entry(path, "dir", mode=0o755)
            if node.children:
                for name in sorted(node.children, reverse=True):
                    stack.append((join(path, name), node.children[name]))

    def __iter__(self) -> Iterator[Entry]:
        return self.walk()

    # -- applying layers -------------------------------------------------------------------

    def _dir(self, parts: tuple[str, ...], label: str) -> _Node:
        """The directory at resolved ``parts``, created (implicitly) where missing."""
        node = self._root
        for i, comp in enumerate(parts):
            assert node.children is not None
            child = node.children.get(comp)
            if child is None:
                child = _Node(None, {})
                node.children[comp] = child
            elif child.children is None:
                where = display("/".join(parts[: i + 1]))
                raise InvalidLayer(f"{display(label)}: {where} is not a directory")
            node = child
        return node

    def apply(self, listing: LayerListing | Iterable[Entry]) -> None:
        """Apply one layer: its deletions against the layers below, then its entries."""
        entries = listing.entries if isinstance(listing, LayerListing) else list(listing)
        for entry in entries:
            if entry.kind == "opaque":
                self._dir(self._parent(entry.path, follow_last=True), entry.path).children = {}
        for entry in entries:
            if entry.kind == "whiteout":
                parent, name = split(entry.path)
                try:
                    parts = self._parent(parent, follow_last=True)
                except InvalidLayer:
                    continue  # a parent is not a directory: nothing there to delete
                node = self._node(parts)
                if node is not None and node.children is not None:
                    node.children.pop(name, None)
        for entry in entries:
            if not entry.is_deletion:
                self._add(entry)
        self.layers += 1

    def _parent(self, path: str, *, follow_last: bool) -> tuple[str, ...]:
        return resolve(_parts(path), self._lookup, follow_last=follow_last, name=path)

    def _add(self, entry: Entry) -> None:
        parent_path, name = split(entry.path)
        parent_parts = self._parent(parent_path, follow_last=True)
        parent = self._dir(parent_parts, entry.path)
        assert parent.children is not None
        path = join("/".join(parent_parts), name)
        if path != entry.path:
            entry = entry.replace(path=path)
        existing = parent.children.get(name)
        if entry.kind == "dir":
            if existing is not None and existing.children is not None:
                existing.entry = entry
            else:
                parent.children[name] = _Node(entry, {})
            return
        if entry.kind == "hardlink":
            entry = self._link(entry)
        parent.children[name] = _Node(entry, None)

    def _link(self, entry: Entry) -> Entry:
        parts = resolve(_parts(entry.linkname), self._lookup, follow_last=False, name=entry.path)
        node = self._node(parts)
        if node is None or node.entry is None:
            raise InvalidLayer(
                f"{entry.display_path}: hard link target {display(entry.linkname)} does not exist"
            )
        target = node.entry
        if node.children is not None:
            raise InvalidLayer(
                f"{entry.display_path}: hard link target {display(entry.linkname)} is a directory"
            )
        return entry.replace(data=target.data, content=target.content)
