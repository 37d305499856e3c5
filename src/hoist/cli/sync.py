"""``hoist sync``: mirror many images from a config file: plan, apply, serve."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

import click

from hoist.cli.common import human_size, table

if TYPE_CHECKING:
    from hoist.client import Client
    from hoist.copy import Progress
    from hoist.model.descriptor import Descriptor
    from hoist.sync.apply import ApplyResult
    from hoist.sync.config import SyncConfig
    from hoist.sync.events import Event, EventSink
    from hoist.sync.plan import Plan


def _config_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "-c",
        "--config",
        "config_path",
        required=True,
        metavar="FILE",
        help="The sync config (YAML): defaults, registries and sync: rules.",
    )(f)


def _load(path: str) -> SyncConfig:
    from hoist.sync.config import load_config

    return load_config(path)


def make_client(config: SyncConfig) -> Client:
    """A client whose logins come from the environment variables the config names, then from
    saved logins (containers' auth.json, Docker's config.json and helpers)."""
    from hoist.client import Client
    from hoist.config.credentials import CredentialChain, default_credentials

    return Client(credentials=CredentialChain([config.credentials(), default_credentials()]))


def _client(ctx: click.Context, config: SyncConfig) -> Client:
    """The command's client, closed (or aborted) by :func:`hoist.cli.main.main`."""
    state = ctx.find_root().ensure_object(dict)
    client: Client | None = state.get("client")
    if client is None:
        client = make_client(config)
        state["client"] = client
    return client


@contextmanager
def _events_to(where: str | None, mode: str) -> Iterator[EventSink | None]:
    from hoist.sync.events import NDJSONWriter

    if where is None:
        yield None
    elif where == "-":
        yield NDJSONWriter(sys.stdout)
    else:
        with open(where, mode, encoding="utf-8") as out:
            yield NDJSONWriter(out)


@click.group("sync")
def sync() -> None:
    """Mirror many images from a config file, within quotas, resumably.

    \b
    hoist sync plan -c sync.yaml                 # what would move
    hoist sync plan -c sync.yaml --format json > plan.json
    hoist sync apply -c sync.yaml --plan plan.json --jobs 8
    hoist sync serve -c sync.yaml                # on the config's schedule
    """


# -- plan ---------------------------------------------------------------------------------


@sync.command("plan")
@_config_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: a table for people; json: the plan `sync apply --plan` takes as it is.",
)
@click.option("--all/--changes", "show_all", default=True, help="List up-to-date images too.")
@click.pass_context
def sync_plan(ctx: click.Context, config_path: str, fmt: str, show_all: bool) -> None:
    """Show what a sync would move: each image missing, changed or up to date, and the bytes.

    Decides with tag lists and HEADs where they answer; reads manifests and configs only where
    needed, never a layer. Exits 1 when a source could not be read (the plan still prints).
    """
    from hoist.sync.plan import sync_plan as make_plan

    config = _load(config_path)
    plan = make_plan(_client(ctx, config), config)
    if fmt == "json":
        click.echo(plan.to_json(), nl=False)
    else:
        _print_plan(plan, show_all)
    for error in plan.errors:
        click.echo(f"error: {error.source}: {error.error}", err=True)
    if plan.errors:
        ctx.exit(1)


_STATUS_TEXT = {"missing": "missing", "changed": "changed", "up-to-date": "up to date"}


def _print_plan(plan: Plan, show_all: bool) -> None:
    rows = []
    for image in plan.images:
        if not show_all and not image.pending:
            continue
        size = human_size(image.bytes) if image.pending else ""
        note = f"(keeps {image.backup})" if image.backup else ""
        rows.append([_STATUS_TEXT[image.status], image.source, image.target, size, note])
    if rows:
        click.echo(table(rows, ["STATUS", "SOURCE", "TARGET", "TO MOVE", ""]))
    click.echo(_plan_line(plan))


def _plan_line(plan: Plan) -> str:
    s = plan.summary
    text = (
        f"{s.missing} missing, {s.changed} changed, {s.up_to_date} up to date; "
        f"{s.copies} {'copy' if s.copies == 1 else 'copies'}, {s.blobs} blobs, "
        f"{human_size(s.bytes)} to move"
    )
    if s.errors:
        text += f"; {s.errors} {'error' if s.errors == 1 else 'errors'}"
    return text


# -- apply --------------------------------------------------------------------------------


@sync.command("apply")
@_config_option
@click.option(
    "--plan",
    "plan_path",
    metavar="FILE",
    help="Apply this JSON plan (from `sync plan --format json`; - for stdin) as it is, each "
    "image checked against what its target held when the plan was made.",
)
@click.option("--jobs", type=click.IntRange(1, 256), help="Images at once (default: the config's).")
@click.option("--events", metavar="FILE|-", help="Write NDJSON events here (- for stdout).")
@click.option(
    "--journal",
    "journal_path",
    metavar="FILE",
    help="The journal (default: the config's, else one per config under $XDG_STATE_HOME).",
)
@click.option("--no-journal", is_flag=True, help="Keep no journal (a killed run starts over).")
@click.option("--fresh", is_flag=True, help="Plan again even if a killed run left a journal.")
@click.option("-q", "--quiet", is_flag=True, help="No progress, only the summary and errors.")
@click.pass_context
def sync_apply(
    ctx: click.Context,
    config_path: str,
    plan_path: str | None,
    jobs: int | None,
    events: str | None,
    journal_path: str | None,
    no_journal: bool,
    fresh: bool,
    quiet: bool,
) -> None:
    """Carry out the sync (planning first unless --plan is given).

    Keeps going past failed images and exits 1 when any failed or the rate-limit floor stopped
    the run; a run killed halfway picks up from its journal when run again.
    """
    from pathlib import Path

    from hoist.sync.apply import sync_apply as apply
    from hoist.sync.events import Fanout
    from hoist.sync.plan import Plan

    if no_journal and journal_path:
        raise click.UsageError("--journal and --no-journal are exclusive")
    config = _load(config_path)
    plan: Plan | None = None
    if plan_path is not None:
        if plan_path == "-":
            plan = Plan.from_json(sys.stdin.buffer.read(), "stdin")
        else:
            with open(plan_path, "rb") as f:
                plan = Plan.from_json(f.read(), plan_path)
    journal: Path | Literal[False] | None = None
    if no_journal:
        journal = False
    elif journal_path:
        journal = Path(journal_path)
    client = _client(ctx, config)
    with _events_to(events, "w") as machine, _people(quiet, events == "-") as (people, bars):
        result = apply(
            client,
            config,
            plan,
            jobs=jobs,
            events=Fanout(machine, people),
            progress=bars,
            journal=journal,
            fresh=fresh,
        )
    _report(result)
    if not result.ok:
        ctx.exit(1)


def _report(result: ApplyResult) -> None:
    for failure in result.failed:
        where = f" -> {failure.target}" if failure.target else ""
        click.echo(f"failed: {failure.source}{where}: {failure.error}", err=True)
    if result.stopped:
        click.echo(f"stopped: {result.stopped}", err=True)
    parts = [f"{result.copied} copied"]
    if result.mounted:
        parts.append(f"{result.mounted} blobs mounted")
    parts.append(f"{result.up_to_date} up to date")
    if result.journal:
        parts.append(f"{result.journal} done before (journal)")
    if result.skipped:
        parts.append(f"{result.skipped} skipped")
    parts.append(f"{len(result.failed)} failed")
    click.echo(
        f"{', '.join(parts)}; {human_size(result.bytes)} in {result.seconds:.1f} s", err=True
    )


@contextmanager
def _people(quiet: bool, stdout_taken: bool) -> Iterator[tuple[EventSink | None, Progress | None]]:
    """What people see on stderr: bars on a terminal, a line per image otherwise."""
    if quiet:
        yield None, None
    elif sys.stderr.isatty():
        bars = _Bars()
        with bars:
            yield bars, bars
    else:
        yield _lines, None


def _lines(event: Event) -> None:
    from hoist.sync.events import ImageDone, ImageFailed, RateLimitWait

    if isinstance(event, ImageDone):
        names = ",".join(event.tags) or "-"
        click.echo(
            f"{event.how:10} {event.target} {names}  {human_size(event.bytes)} "
            f"{event.seconds:.1f} s",
            err=True,
        )
    elif isinstance(event, ImageFailed):
        click.echo(f"{'failed':10} {event.target or event.source}: {event.error}", err=True)
    elif isinstance(event, RateLimitWait):
        click.echo(
            f"ratelimit  {event.host}: {event.remaining} left; {event.action} "
            f"{event.seconds:.0f} s",
            err=True,
        )


class _Bars:
    """rich bars: images done of the copies planned, and bytes moved of those planned."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        console = Console(stderr=True)
        self._images = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console
        )
        self._bytes = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
        )
        from rich.console import Group
        from rich.live import Live

        self._live = Live(Group(self._images, self._bytes), console=console, transient=False)
        self._image_task = self._images.add_task("images", total=None)
        self._byte_task = self._bytes.add_task("bytes", total=None)
        self._lock = threading.Lock()

    def __enter__(self) -> _Bars:
        self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.stop()

    def __call__(self, event: Event) -> None:
        from hoist.sync.events import ImageDone, ImageFailed, RunStarted

        if isinstance(event, RunStarted):
            self._images.update(self._image_task, total=event.copies)
            self._bytes.update(self._byte_task, total=event.bytes or None)
        elif isinstance(event, ImageDone | ImageFailed):
            self._images.advance(self._image_task)
            if isinstance(event, ImageFailed):
                self._live.console.print(
                    f"[red]failed[/] {event.target or event.source}: {event.error}"
                )
            elif event.how != "journal":
                names = ",".join(event.tags)
                self._live.console.print(f"{event.how} {event.target} {names}")

    # the copy's Progress: bytes only
    def plan(self, blobs: Any) -> None:
        pass

    def start(self, desc: Descriptor) -> None:
        pass

    def advance(self, desc: Descriptor, nbytes: int) -> None:
        self._bytes.advance(self._byte_task, nbytes)

    def finish(self, desc: Descriptor, how: str) -> None:
        pass


# -- serve --------------------------------------------------------------------------------


@sync.command("serve")
@_config_option
@click.option("--events", metavar="FILE|-", help="Append NDJSON events here (- for stdout).")
@click.option(
    "--interval",
    metavar="DURATION",
    help="Run every DURATION (30m, 6h), not the config's schedule.",
)
@click.option(
    "--cron", "cron_line", metavar="LINE", help="Run at the times of a 5-field cron line."
)
@click.option("-q", "--quiet", is_flag=True, help="Only each run's summary and errors.")
def sync_serve(
    config_path: str, events: str | None, interval: str | None, cron_line: str | None, quiet: bool
) -> None:
    """Sync on a schedule (the config's defaults.schedule, --interval or --cron) until stopped;
    SIGHUP reloads the config (a broken one is reported and the old one kept)."""
    import signal

    from hoist.sync.config import Schedule, parse_duration
    from hoist.sync.cron import Cron
    from hoist.sync.serve import SyncServer

    if interval and cron_line:
        raise click.UsageError("--interval and --cron are exclusive")
    schedule: Schedule | None = None
    try:
        if interval:
            schedule = Schedule(interval=parse_duration(interval))
        elif cron_line:
            schedule = Schedule(cron=Cron.parse(cron_line))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None

    def on_error(exc: Exception) -> None:
        click.echo(f"error: {exc}", err=True)

    with _events_to(events, "a") as machine:
        from hoist.sync.events import Fanout

        people = None if quiet else _lines
        server = SyncServer(
            lambda: _load(config_path),
            make_client,
            events=Fanout(machine, people),
            schedule=schedule,
            on_result=_report,
            on_error=on_error,
        )
        signal.signal(signal.SIGHUP, lambda *_: server.reload())
        signal.signal(signal.SIGTERM, lambda *_: server.stop())
        click.echo(f"hoist sync serve: {server.schedule()}; SIGHUP reloads {config_path}", err=True)
        try:
            server.run()
        except KeyboardInterrupt:
            server.stop()
