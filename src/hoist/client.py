"""The entry point of the library: one client, a store per kind of reference."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from hoist.errors import Unsupported
from hoist.image import Image
from hoist.model.reference import ImageRef, LayoutReference, parse_reference

if TYPE_CHECKING:
    from hoist.model.platform import Platform
    from hoist.store.base import Store

__all__ = ["Client"]

log = logging.getLogger(__name__)


class Client:
    """Opens stores on demand; settings are keyword arguments passed to the registry store.

    Use as a context manager, or call :meth:`close`, to release connections.
    """

    def __init__(self, **registry_options: Any) -> None:
        self._registry_options = registry_options
        self._stores: dict[str, Store] = {}

    def ref(self, text: str | ImageRef) -> ImageRef:
        """Parse a reference string (references pass through)."""
        return parse_reference(text) if isinstance(text, str) else text

    def store(self, ref: ImageRef) -> Store:
        """The store that serves ``ref``, created once per kind."""
        kind = ref.scheme if isinstance(ref, LayoutReference) else "registry"
        store = self._stores.get(kind)
        if store is None:
            store = self._open(kind)
            self._stores[kind] = store
        return store

    def _open(self, kind: str) -> Store:
        if kind == "ocidir":
            from hoist.store.ocidir import OCIDirStore

            return OCIDirStore()
        if kind == "registry":
            from hoist.store.registry import RegistryStore

            return RegistryStore(**self._registry_options)
        if kind in ("oci-archive", "docker-archive"):
            from hoist.store.archive import ArchiveStore

            return ArchiveStore(kind)
        raise Unsupported(f"no store for {kind}:// references yet")

    def image(self, ref: str | ImageRef, *, platform: Platform | None = None) -> Image:
        """A lazy view of the image ``ref`` names."""
        parsed = self.ref(ref)
        return Image(self.store(parsed), parsed, platform=platform)

    def close(self) -> None:
        """Close every store (archives being written are completed); the first error is raised
        after all were closed."""
        stores, self._stores = list(self._stores.values()), {}
        errors = []
        for store in stores:
            try:
                store.close()
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]

    def abort(self) -> None:
        """Drop what stores were writing (archives) and close them: after a failed operation."""
        for store in self._stores.values():
            abort = getattr(store, "abort", None)
            if abort is not None:
                abort()
        self.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc is not None:
            self.abort()
        else:
            self.close()
