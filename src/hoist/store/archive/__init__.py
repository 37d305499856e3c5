"""Image archives as stores: ``oci-archive://FILE[:tag]`` and ``docker-archive://FILE[:tag]``."""

from hoist.store.archive.store import ArchiveStore, open_archive

__all__ = ["ArchiveStore", "open_archive"]
