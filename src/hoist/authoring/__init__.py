"""Authoring images without an engine: new layers, image mod, Dockerfile builds."""
