"""A Dockerfile stage being built: its draft image and what the Dockerfile's scope knows.

A stage starts from ``scratch``, from a base image (its config read, its layers referenced,
never read) or from a copy of an earlier stage. Every instruction then changes the draft
(:mod:`hoist.authoring.edits`) and appends a history entry; COPY and ADD also append a
layer. Besides the draft, a stage keeps what only the build needs: the variables in scope,
the directories it made, the base image's ONBUILD triggers and where its blobs came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hoist.authoring.draft import Draft
from hoist.model.base_image import RecordedBase

if TYPE_CHECKING:
    from hoist.image import Image
    from hoist.location import Location
    from hoist.model.platform import Platform

__all__ = ["HISTORY_COMMENT", "StageState"]

HISTORY_COMMENT = "buildkit.dockerfile.v0"
"""The ``comment`` BuildKit puts on each history entry of a Dockerfile build."""


def _env_vars(env: list[str]) -> dict[str, str]:
    return dict(e.partition("=")[::2] for e in env)


@dataclass
class StageState:
    """A stage being built, for one platform."""

    platform: Platform
    draft: Draft
    vars: dict[str, str] = field(default_factory=dict)
    """What ``$VAR`` expands to: the config's Env, then ENV and ARG values in order."""
    cmd_set: bool = False
    dirs: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    """Directories this build wrote into a layer: path -> (mode, uid, gid)."""
    dir_paths: set[str] = field(default_factory=set)
    """Paths known to be directories (``dirs`` and WORKDIRs), for COPY destinations."""
    base_unread: bool = False
    """The stage has base-image layers whose files hoist has not read."""
    sources: list[Location] = field(default_factory=list)
    """Where blobs of the image that the destination lacks can be copied from."""
    base_name: str = "scratch"
    base_digest: str = ""
    """The base image's manifest digest (for this platform)."""
    onbuild: list[str] = field(default_factory=list)
    """The base image's ONBUILD triggers, to run before the stage's own instructions."""

    @classmethod
    def scratch(cls, platform: Platform) -> StageState:
        draft = Draft.scratch(platform)
        return cls(platform, draft, vars=_env_vars(draft.config["Env"]))

    @classmethod
    def on_base(cls, image: Image, platform: Platform, name: str) -> StageState:
        """A stage on ``image`` (called ``name`` in the Dockerfile): its config and history,
        its layers by reference; its ONBUILD triggers are taken out of the config."""
        draft = Draft.on_base(image, platform, name)
        draft.annotations.update(
            RecordedBase(str(image.location), image.manifest.digest).annotations()
        )
        onbuild = list(draft.config.pop("OnBuild", None) or [])
        return cls(
            platform,
            draft,
            vars=_env_vars(draft.config.get("Env") or []),
            base_unread=bool(draft.layers),
            sources=[image.location],
            base_name=name,
            base_digest=str(image.manifest.digest),
            onbuild=onbuild,
        )

    def clone(self) -> StageState:
        """A copy to build another stage on (layers and sources are shared, not copied)."""
        return StageState(
            self.platform,
            self.draft.clone(),
            vars=dict(self.vars),
            dirs=dict(self.dirs),
            dir_paths=set(self.dir_paths),
            base_unread=self.base_unread,
            sources=list(self.sources),
            base_name=self.base_name,
            base_digest=self.base_digest,
        )

    @property
    def image_platform(self) -> Platform:
        """The platform the config declares (what an index lists for it)."""
        return self.draft.platform
