"""Test configuration: load the real-registry fixtures (tests/support/registry_fixtures.py)."""

pytest_plugins = [
    "support.registry_fixtures",
    "support.samples",
    "support.proxy",
    "support.fake_http",
    "support.body_reads",
]
