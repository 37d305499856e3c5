"""The "Examples:" at the end of every command's ``--help``, in one table.

The layout ``demo`` is the one ``bash scripts/demo.sh --layout demo`` (or ``hoist demo --layout
demo``) leaves behind; ``localhost:5000`` is ``hoist serve``'s default address. A test parses
every example with its command, so an option renamed here fails there.
"""

from __future__ import annotations

import click

__all__ = ["EXAMPLES", "install_examples"]

EXAMPLES: dict[tuple[str, ...], tuple[str, ...]] = {
    ("ref",): ("hoist ref nginx", "hoist ref ghcr.io/org/app@sha256:0123... --format json"),
    ("manifest", "get"): (
        "hoist manifest get ocidir://demo:base --format text",
        "hoist manifest get ocidir://demo:base --platform linux/arm64",
        "hoist manifest get localhost:5000/app:v1 --format raw | sha256sum",
    ),
    ("manifest", "head"): ("hoist manifest head localhost:5000/app:v1 --format json",),
    ("manifest", "put"): ("hoist manifest put localhost:5000/app:v2 manifest.json",),
    ("manifest", "delete"): (
        "hoist manifest delete localhost:5000/app@sha256:0123...",
        "hoist manifest rm localhost:5000/app:old     # every tag on that digest goes",
    ),
    ("blob", "get"): ("hoist blob get ocidir://demo:app sha256:6af9422e0484... -o layer.tgz",),
    ("blob", "head"): ("hoist blob head localhost:5000/app sha256:6af9422e0484...",),
    ("blob", "put"): ("hoist blob put localhost:5000/app layer.tgz --format json",),
    ("blob", "copy"): (
        "hoist blob copy localhost:5000/app localhost:5000/mirror sha256:6af9422e0484...",
    ),
    ("blob", "delete"): ("hoist blob delete localhost:5000/app sha256:6af9422e0484...",),
    ("image", "digest"): (
        "hoist image digest ocidir://demo:base",
        "hoist image digest ocidir://demo:base --platform linux/arm64",
    ),
    ("image", "config"): ("hoist image config ocidir://demo:base -p linux/amd64 | jq .history",),
    ("image", "ratelimit"): ("hoist image ratelimit docker.io/library/alpine",),
    ("image", "inspect"): (
        "hoist image inspect ocidir://demo:app",
        "hoist inspect ocidir://demo:base -p linux/arm64 --format json   # Docker's keys",
        "hoist image inspect ocidir://demo:base --all-platforms --unpacked   # sizes",
    ),
    ("image", "layers"): (
        "hoist image layers ocidir://demo:app",
        "hoist image layers ocidir://demo:app --diff-ids --no-trunc",
    ),
    ("image", "copy"): (
        "hoist image copy ocidir://demo:base localhost:5000/base:v1",
        "hoist cp localhost:5000/base:v1 ocidir://mirror:base --platforms linux/amd64",
        "hoist image copy ocidir://demo:base docker-archive://base.tar -p linux/arm64",
        "hoist image copy localhost:5000/app:v1 localhost:5000/app:v2 --format json",
    ),
    ("image", "export"): (
        "hoist image export ocidir://demo:base base.tar -p linux/amd64   # docker load < base.tar",
        "hoist image export ocidir://demo:base base.oci.tar --type oci",
        "hoist image export localhost:5000/app:v1 - | docker load",
        "hoist image export ocidir://demo:app --rootfs -o - | tar -x -C rootfs",
    ),
    ("image", "import"): (
        "hoist image import ocidir://imported:base base.tar",
        "docker save app:v1 | hoist image import localhost:5000/app:v1 -",
    ),
    ("image", "build"): (
        "hoist image build . -t localhost:5000/app:v1",
        "hoist image build . -t ocidir://out:app --platform linux/amd64,linux/arm64",
        "hoist image build . -f Dockerfile.prod -t localhost:5000/app:v1 --build-arg VERSION=1",
    ),
    ("image", "mod"): (
        "hoist image mod ocidir://demo:app --create ocidir://demo:app-mod --label team=infra",
        "hoist image mod localhost:5000/app:v1 --replace --env APP_PORT=9090 --format json",
        "hoist image mod ocidir://demo:app --create ocidir://demo:app-zstd --layer-compress zstd",
        "hoist image mod localhost:5000/app:v1 --rebase --create localhost:5000/app:v1-rebased",
    ),
    ("image", "flatten"): (
        "hoist image flatten ocidir://demo:app --create ocidir://demo:app-flat",
        "hoist image flatten ocidir://demo:app --keep-base ocidir://demo:base "
        "--create ocidir://demo:app-squashed",
        "hoist image flatten localhost:5000/app:v1 --last 2 --create localhost:5000/app:v1-slim",
    ),
    ("image", "waste"): (
        "hoist image waste ocidir://demo:app",
        "hoist image waste localhost:5000/app:v1 --top 5 --format json | jq .efficiency",
    ),
    ("image", "tree"): (
        "hoist image tree ocidir://demo:base ocidir://demo:app",
        "hoist image tree localhost:5000/app:v1 --referrers --format svg > tree.svg",
    ),
    ("image", "check-base"): (
        "hoist image check-base ocidir://demo:app --base ocidir://demo:base   # exit 3: rebuild",
        "hoist image check-base localhost:5000/app:v1   # the base image build recorded",
    ),
    ("image", "diff"): (
        "hoist image diff ocidir://demo:app ocidir://demo:app-v2 --files",
        "hoist image diff ocidir://demo:app ocidir://demo:app-v2 --exit-code   # exit 3: differ",
    ),
    ("image", "ls-files"): (
        "hoist image ls-files ocidir://demo:app",
        "hoist image ls-files ocidir://demo:app-v2 --layer -1",
    ),
    ("image", "get-file"): (
        "hoist image get-file ocidir://demo:app /etc/app.conf",
        "hoist image get-file localhost:5000/app:v1 /app/server.py -o server.py",
    ),
    ("image", "unpack"): (
        "hoist image unpack ocidir://demo:app rootfs",
        "hoist image unpack ocidir://demo:app rootfs --force   # into a non-empty directory",
    ),
    ("image", "verify"): (
        "hoist image verify ocidir://demo:app   # exit 3 on a mismatch",
        "hoist image verify localhost:5000/app:v1 --format json",
    ),
    ("layer", "ls"): ("hoist layer ls ocidir://demo:app 3cc0920bd685",),
    ("tag", "ls"): (
        "hoist tag ls ocidir://demo",
        "hoist ls localhost:5000/app --limit 10 --last v1.9",
        "hoist tag ls localhost:5000/app --include '^v1\\.' --format json",
        "hoist tag ls localhost:5000/app --sort semver --reverse --limit 3",
        "hoist tag ls localhost:5000/app --digest sha256:0123...   # the tags on that digest",
    ),
    ("tag", "add"): ("hoist tag add localhost:5000/app:v1 stable latest",),
    ("tag", "delete"): ("hoist tag delete localhost:5000/app:old",),
    ("repo", "ls"): ("hoist repo ls localhost:5000", "hoist repo ls localhost:5000 --limit 10"),
    ("repo", "copy"): (
        "hoist repo copy localhost:5000/app localhost:5000/mirror --include '^v'",
        "hoist repo copy localhost:5000/app ocidir://backup --format json",
    ),
    ("registry", "login"): (
        "hoist registry login ghcr.io -u me --password-stdin < token.txt",
        "hoist login localhost:5000 -u alice",
    ),
    ("registry", "logout"): ("hoist registry logout ghcr.io",),
    ("registry", "set"): (
        "hoist registry set registry.lab:5000 --tls insecure",
        "hoist registry set docker.io --mirror mirror.example.com --priority 10",
    ),
    ("registry", "unset"): ("hoist registry unset registry.lab:5000 --tls",),
    ("registry", "config"): (
        "hoist registry config",
        "hoist registry config docker.io --format json",
    ),
    ("serve",): (
        "hoist serve --addr 127.0.0.1:5000 --root ./registry",
        "hoist serve --htpasswd users.htpasswd --anonymous-read",
    ),
    ("serve", "gc"): ("hoist serve gc --root ./registry --dry-run",),
    ("serve", "verify"): ("hoist serve verify --root ./registry   # exit 3 if a file is damaged",),
    ("index", "create"): (
        "hoist index create localhost:5000/app:v1 --ref ocidir://demo:app-amd64 "
        "--ref ocidir://demo:app-arm64",
        "hoist index create localhost:5000/app:v1 --ref localhost:5000/app:amd64 --docker",
    ),
    ("index", "add"): ("hoist index add localhost:5000/app:v1 --ref ocidir://demo:app-arm64",),
    ("index", "remove"): (
        "hoist index remove localhost:5000/app:v1 --platform linux/arm64",
        "hoist index remove localhost:5000/app:v1 --digest sha256:0123...",
    ),
    ("artifact", "put"): (
        "hoist artifact put localhost:5000/app --subject localhost:5000/app:v1 "
        "--artifact-type application/spdx+json -f sbom.spdx.json",
        "hoist artifact put localhost:5000/docs:1.0,latest --artifact-type "
        "application/vnd.example.site -f site --format json",
    ),
    ("artifact", "get"): (
        "hoist artifact get localhost:5000/docs:1.0 -o out",
        "hoist artifact get localhost:5000/app:v1 --artifact-type application/spdx+json --latest",
    ),
    ("artifact", "list"): ("hoist artifact list localhost:5000/app:v1 --format json",),
    ("artifact", "tree"): ("hoist artifact tree localhost:5000/app:v1",),
    ("sync", "plan"): (
        "hoist sync plan -c sync.yaml",
        "hoist sync plan -c sync.yaml --format json",
    ),
    ("sync", "apply"): ("hoist sync apply -c sync.yaml --jobs 4",),
    ("sync", "serve"): ("hoist sync serve -c sync.yaml --interval 3600",),
    ("demo",): ("hoist demo", "hoist demo --layout demo --keep"),
    ("version",): ("hoist version", "hoist version --format json"),
    ("completion",): (
        'eval "$(hoist completion bash)"',
        "hoist completion fish > ~/.config/fish/completions/hoist.fish",
    ),
}
"""Command path -> example lines (each a whole command line, a comment after ``#``)."""


def epilog(lines: tuple[str, ...]) -> str:
    """The epilog text: a paragraph click prints as it is (``\\b``)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


def install_examples(command: click.Command, path: tuple[str, ...]) -> None:
    """Give ``command`` (and every command under it) its examples, once."""
    if getattr(command, "_hoist_examples", False):
        return
    command._hoist_examples = True  # type: ignore[attr-defined]
    lines = EXAMPLES.get(path)
    if lines and not command.epilog:
        command.epilog = epilog(lines)
    if isinstance(command, click.Group):
        from hoist.cli.common import each_command

        each_command(install_examples, command, path)
