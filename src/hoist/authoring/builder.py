"""Build images from a Dockerfile without a container runtime (``hoist image build``).

Every instruction that needs no running container is supported: COPY and ADD each make one
layer; the others change only the config and add an ``empty_layer`` history entry, worded as
BuildKit words it. ``RUN`` is refused, naming its line (only in stages the target needs).

``FROM`` an image reads only its manifest and config: the base layers are referenced, and
reused when writing (left in place or mounted on the same registry, copied otherwise). They
are downloaded only when ``COPY --from`` reads files from a stage built on them.

Builds are reproducible: sorted tar entries, file times and every ``created`` from
``SOURCE_DATE_EPOCH`` (else 0), owners 0:0 unless ``--chown``, nothing from the host but
the context's file contents, modes and symlinks. Several platforms give an OCI index.

::

    from hoist.authoring.builder import BuildOptions, image_build
    from hoist.client import Client
    from hoist.model.platform import Platform

    with Client() as client:
        result = image_build(client, "./app", client.at("registry.example/app:1"), BuildOptions(
            platforms=(Platform("linux", "amd64"), Platform("linux", "arm64"))))
        print(result.descriptor.digest)

The client resolves the Dockerfile's ``FROM`` and ``COPY --from`` images; the result goes to
the location given.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hoist.authoring.bases import Bases, platform_args
from hoist.authoring.commit import write_index, write_manifest
from hoist.authoring.context import BuildContext
from hoist.authoring.copying import (
    ContextFS,
    CopyRequest,
    PlanEntry,
    SourceFS,
    plan_copy,
    write_layer,
)
from hoist.authoring.dockerfile import (
    RUN_ERROR,
    Dockerfile,
    Instruction,
    Stage,
    parse_dockerfile,
    parse_instruction,
)
from hoist.authoring.draft import DraftLayer, rfc3339
from hoist.authoring.options import (
    BuildOptions,
    BuildResult,
    BuiltImage,
    Step,
    parse_chmod,
    parse_chown,
    source_date_epoch,
)
from hoist.authoring.shellwords import process_word
from hoist.authoring.stage import HISTORY_COMMENT, StageState
from hoist.authoring.stagefs import StageFiles
from hoist.authoring.steps import StepContext, apply_step
from hoist.errors import HoistError, InvalidDockerfile, InvalidInput
from hoist.layers.tarball import COMPRESSIONS, NewLayer
from hoist.model import mediatype as mt
from hoist.model.base_image import ANNOTATION_BASE_NAME
from hoist.model.descriptor import Descriptor
from hoist.model.digest import digest_of
from hoist.model.manifest import ImageManifest, Index
from hoist.model.platform import Platform, local_platform

if TYPE_CHECKING:
    from hoist.client import Client
    from hoist.location import Location

__all__ = ["BuildOptions", "BuildResult", "BuiltImage", "Step", "image_build"]


def _env(values: Mapping[str, str | None]) -> dict[str, str]:
    return {k: v for k, v in values.items() if v is not None}


class _Build:
    def __init__(
        self,
        client: Client,
        dockerfile: Dockerfile,
        context: BuildContext,
        options: BuildOptions,
        workdir: Path,
        progress: Callable[[Step], None] | None,
    ) -> None:
        self.client = client
        self.df = dockerfile
        self.context_fs = ContextFS(context)
        self.options = options
        self.workdir = workdir
        self.progress = progress
        self.epoch = source_date_epoch(options.epoch)
        self.created = rfc3339(self.epoch)
        self.states: dict[tuple[int, Platform], StageState] = {}
        self.active: set[tuple[int, Platform]] = set()
        self.layers: dict[tuple[PlanEntry, ...], NewLayer] = {}
        self.files: dict[tuple[Any, ...], StageFiles] = {}
        self.bases = Bases(client, self.fail)
        self.warnings: list[str] = []
        self.used: set[str] = set()
        self.show_platform = False

    def fail(self, message: str, line: int) -> InvalidDockerfile:
        return InvalidDockerfile(message, line, self.df.name)

    def expand(self, word: str, env: Mapping[str, str], line: int) -> str:
        try:
            return process_word(word, env, self.df.escape)
        except ValueError as exc:
            raise self.fail(str(exc), line) from None

    def meta(self, platform: Platform) -> dict[str, str | None]:
        """The global ARGs' values for a target platform (platform ARGs included)."""
        values = platform_args(platform)
        automatic = set(values)
        for instr in self.df.meta_args:
            for key, default in instr.pairs:
                if key in automatic:
                    continue
                if key in self.options.build_args:
                    values[key] = self.options.build_args[key]
                    self.used.add(key)
                elif default is not None:
                    values[key] = self.expand(default, _env(values), instr.line)
                else:
                    values[key] = None
        return values

    # -- stages ----------------------------------------------------------------------------

    def _parent(self, stage: Stage, base: str) -> Stage | None:
        lowered = base.lower()
        return next((s for s in self.df.stages[: stage.index] if s.name == lowered), None)

    def default_platforms(self, stage: Stage) -> list[Platform]:
        """Every platform of the target stage's base image (``FROM --platform`` fixes one;
        ``scratch`` is the local platform)."""
        local = local_platform()
        env = _env(self.meta(local))
        while True:
            if stage.platform:
                text = self.expand(stage.platform, env, stage.line)
                return [self.bases.platform(text, stage.line)]
            base = self.expand(stage.base, env, stage.line)
            parent = self._parent(stage, base)
            if parent is None:
                break
            stage = parent
        if base.lower() == "scratch":
            return [local]
        return self.bases.platforms(base, stage.line)

    def stage_state(self, stage: Stage, platform: Platform) -> StageState:
        key = (stage.index, platform)
        state = self.states.get(key)
        if state is not None:
            return state
        if key in self.active:
            raise self.fail(f"circular dependency detected on stage: {stage.label}", stage.line)
        self.active.add(key)
        try:
            state = self._run(stage, platform)
        finally:
            self.active.discard(key)
        self.states[key] = state
        return state

    def _run(self, stage: Stage, platform: Platform) -> StageState:
        meta = self.meta(platform)
        env = _env(meta)
        base = self.expand(stage.base, env, stage.line)
        if not base:
            raise self.fail(f"base name ({stage.base}) should not be blank", stage.line)
        own = platform
        if stage.platform:
            own = self.bases.platform(self.expand(stage.platform, env, stage.line), stage.line)
        parent = self._parent(stage, base)
        triggers: list[Instruction] = []
        detail = ""
        if base.lower() == "scratch":
            state = StageState.scratch(own)
        elif parent is not None:
            state = self.stage_state(parent, platform).clone()
        else:
            state = self.bases.stage(base, own, stage.line)
            digest, count = state.base_digest, len(state.draft.layers)
            detail = f"{digest[:19]}, {count} layer{'s' * (count != 1)} reused"
            escape, name = self.df.escape, self.df.name
            triggers = [
                parse_instruction(t, line=stage.line, escape=escape, name=name)
                for t in state.onbuild
            ]
        total = 1 + len(triggers) + len(stage.instructions)
        self.emit(stage, platform, 1, total, f"FROM {base}", detail=detail)
        ctx = StepContext(self.df.escape, self.options.build_args, meta, self.used)
        for n, instr in enumerate([*triggers, *stage.instructions]):
            layer = self.dispatch(state, instr, ctx, platform, onbuild=n < len(triggers))
            text = ("ONBUILD " if n < len(triggers) else "") + " ".join(instr.original.split())
            self.emit(stage, platform, n + 2, total, text, layer=layer)
        return state

    def emit(
        self,
        stage: Stage,
        platform: Platform,
        index: int,
        total: int,
        text: str,
        *,
        layer: Descriptor | None = None,
        detail: str = "",
    ) -> None:
        if self.progress is not None:
            self.progress(
                Step(
                    index,
                    total,
                    text,
                    stage.label if len(self.df.stages) > 1 else None,
                    platform if self.show_platform else None,
                    layer,
                    detail,
                )
            )

    # -- instructions ----------------------------------------------------------------------

    def dispatch(
        self,
        state: StageState,
        instr: Instruction,
        ctx: StepContext,
        platform: Platform,
        *,
        onbuild: bool = False,
    ) -> Descriptor | None:
        try:
            if instr.keyword == "RUN":
                where = f" (an ONBUILD trigger of {state.base_name})" if onbuild else ""
                raise self.fail(RUN_ERROR + where, instr.line)
            if instr.keyword in ("COPY", "ADD"):
                return self.copy(state, instr, platform)
            created_by = apply_step(state, instr, ctx)
            if created_by is not None:
                state.draft.add_history(created_by, self.created, comment=HISTORY_COMMENT)
            return None
        except InvalidDockerfile:
            raise
        except HoistError as exc:
            if isinstance(exc, InvalidInput):
                raise self.fail(f"{instr.keyword}: {exc}", instr.line) from None
            raise
        except ValueError as exc:
            raise self.fail(f"{instr.keyword}: {exc}", instr.line) from None

    def copy(self, state: StageState, instr: Instruction, platform: Platform) -> Descriptor:
        env = dict(state.vars)
        words = [process_word(a, env, self.df.escape) for a in instr.args]
        chown = process_word(instr.flag("chown") or "", env, self.df.escape)
        chmod = process_word(instr.flag("chmod") or "", env, self.df.escape)
        request = CopyRequest(
            tuple(words[:-1]),
            words[-1],
            instr.keyword == "ADD",
            parse_chown(chown),
            parse_chmod(chmod),
        )
        source = instr.flag("from")
        fs: SourceFS = self.context_fs
        files = None
        if source:
            files = self.stage_files(process_word(source, env, self.df.escape), platform, instr)
            fs = files

        def warn(message: str) -> None:
            self.warnings.append(f"{self.df.name}:{instr.line}: {message}")

        plan = plan_copy(state, request, fs, warn)
        if files is not None:
            plan = tuple(files.materialize(plan))
        layer = self.layers.get(plan)
        if layer is None:
            layer = write_layer(
                plan, compression=self.options.compression, mtime=self.epoch, workdir=self.workdir
            )
            self.layers[plan] = layer
        state.draft.add_layer(DraftLayer(layer.descriptor, layer.diff_id, new=layer))
        for entry in plan:
            if entry.kind == "dir":
                state.dirs[entry.dest] = (entry.mode, entry.uid, entry.gid)
                state.dir_paths.add(entry.dest)
        flags = [f"--chown={chown}"] if chown else []
        flags += [f"--chmod={chmod}"] if chmod else []
        created_by = " ".join([instr.keyword, *flags, *words]) + " # buildkit"
        state.draft.add_history(created_by, self.created, layer=True, comment=HISTORY_COMMENT)
        return layer.descriptor

    def stage_files(self, source: str, platform: Platform, instr: Instruction) -> StageFiles:
        """The files of ``--from=`` a stage (name or index) or an image, read lazily."""
        stage = self.df.find_stage(source)
        key: tuple[Any, ...]
        if stage is not None:
            key = ("stage", stage.index, platform)
            if (stage.index, platform) in self.active:
                raise self.fail(f"circular dependency detected on stage: {stage.label}", instr.line)
            if key not in self.files:
                state = self.stage_state(stage, platform)
                layers = state.draft.layers
                self.files[key] = StageFiles(layers, f"stage {stage.label}", self.workdir)
            return self.files[key]
        key = ("image", source, platform)
        if key not in self.files:
            layers = self.bases.layers(source, platform, instr.line)
            self.files[key] = StageFiles(layers, source, self.workdir)
        return self.files[key]

    # -- the result ------------------------------------------------------------------------

    def needed(self, target: Stage) -> list[Stage]:
        """The stages the target needs, in order; fails before any work if one has a RUN
        (``--from`` values that name a stage only once expanded are caught when reached)."""
        env = _env(self.meta(local_platform()))
        todo, seen, runs = [target], set(), []
        while todo:
            stage = todo.pop()
            if stage.index in seen:
                continue
            seen.add(stage.index)
            parent = self._parent(stage, self.expand(stage.base, env, stage.line))
            todo += [parent] if parent is not None else []
            for instr in stage.instructions:
                if instr.keyword == "RUN":
                    runs.append(instr.line)
                used = self.df.find_stage(instr.flag("from") or "")
                todo += [used] if used is not None else []
        if runs:
            raise self.fail(RUN_ERROR, min(runs))
        return [s for s in self.df.stages if s.index in seen]

    def run(self, dst: Location) -> BuildResult:
        target = self.df.stages[-1]
        if self.options.target:
            found = self.df.find_stage(self.options.target)
            if found is None:
                raise self.fail(f"target stage {self.options.target!r} could not be found", 0)
            target = found
        stages = self.needed(target)
        platforms = list(dict.fromkeys(self.options.platforms)) or self.default_platforms(target)
        self.show_platform = len(platforms) > 1
        states = []
        for platform in platforms:
            for stage in stages:
                self.stage_state(stage, platform)
            states.append(self.stage_state(target, platform))
        unused = sorted(set(self.options.build_args) - self.used)
        if unused:
            self.warnings.append(f"build-args not consumed by any ARG: {', '.join(unused)}")
        return self.write(dst, states)

    def write(self, dst: Location, states: list[StageState]) -> BuildResult:
        multi = len(states) > 1
        images, children = [], []
        descriptor: Descriptor | None = None
        for state in states:
            draft = state.draft
            blob = draft.config_blob(self.created)
            config = Descriptor(mt.OCI_CONFIG, digest_of(blob), len(blob))
            layers = [x.descriptor for x in draft.layers]
            manifest = ImageManifest.build(config, layers, annotations=draft.annotations)
            descriptor = write_manifest(
                dst,
                manifest,
                blobs={config.digest: blob},
                layers=draft.new_layers(),
                sources=state.sources,
                tag=not multi,
            )
            images.append(BuiltImage(state.image_platform, manifest, blob))
            children.append(manifest.descriptor(platform=state.image_platform))
        if multi:
            descriptor = write_index(dst, Index.build(children, annotations=_index_base(states)))
        assert descriptor is not None
        return BuildResult(dst, descriptor, images, self.warnings)


def _index_base(states: list[StageState]) -> dict[str, str]:
    """The base name every platform image records, for the index too (when they agree)."""
    names = {s.draft.annotations.get(ANNOTATION_BASE_NAME) for s in states}
    name = names.pop() if len(names) == 1 else None
    return {ANNOTATION_BASE_NAME: name} if name else {}


def image_build(
    client: Client,
    context: str | os.PathLike[str],
    dst: Location,
    options: BuildOptions | None = None,
    *,
    progress: Callable[[Step], None] | None = None,
) -> BuildResult:
    """Build the Dockerfile in ``context`` and write the image to ``dst`` (a layout without
    a tag gets ``latest``); ``client`` opens the images it builds on.

    Raises InvalidDockerfile (with the line) for what does not parse or cannot be built,
    InvalidInput for a bad context or option, and the store's errors when reading bases or
    writing the result.
    """
    options = options or BuildOptions()
    if options.compression not in COMPRESSIONS:
        raise InvalidInput(f"unknown compression {options.compression!r}: gzip, zstd or none")
    root = Path(context)
    path = Path(options.dockerfile) if options.dockerfile else root / "Dockerfile"
    text = options.dockerfile_text
    if text is None:
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise InvalidInput(f"no Dockerfile at {path}") from None
    dockerfile = parse_dockerfile(text, name=path.name, allow_run=True)
    build_context = BuildContext.open(root, path)
    if dst.is_layout and dst.tag is None and dst.digest is None:
        dst = dst.with_tag("latest")
    with tempfile.TemporaryDirectory(prefix="hoist-build-") as tmp:
        return _Build(client, dockerfile, build_context, options, Path(tmp), progress).run(dst)
