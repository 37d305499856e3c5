"""Test configuration: load the real-registry fixtures (tests/registry_fixtures.py)."""

pytest_plugins = ["registry_fixtures"]
