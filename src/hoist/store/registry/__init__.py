"""Registries (OCI distribution-spec v1.1, Docker Registry HTTP API v2) as a store."""

from hoist.store.registry.store import RegistryStore, registry_login_check

__all__ = ["RegistryStore", "registry_login_check"]
