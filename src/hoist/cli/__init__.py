"""hoist."""
