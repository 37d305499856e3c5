"""``hoist image export --rootfs``: an image's filesystem as one tar, for ``| tar -x``."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from hoist.cli.common import emit_json, get_client, get_location

if TYPE_CHECKING:
    from hoist.model.platform import Platform

__all__ = ["export_rootfs"]


def export_rootfs(
    ctx: click.Context,
    reference: str,
    output: str,
    platform: Platform | None,
    fmt: str,
    *,
    quiet: bool = False,
) -> None:
    """Write the merged filesystem of REFERENCE to ``output`` (``-``: stdout); one platform:
    --platform's, an index's only one, else the local one (said on stderr). ``quiet`` leaves
    out the summary line (the digest is still printed)."""
    from hoist.export import archive_platform
    from hoist.rootfs import image_rootfs

    src = get_location(ctx, reference)
    chosen = archive_platform(src, platform)
    if chosen.others:
        others = ", ".join(str(p) for p in chosen.others)
        click.echo(
            f"exporting the filesystem of {chosen.platform} (the local one; also in the "
            f"index: {others}; --platform picks another)",
            err=True,
        )
    image = get_client(ctx).image(src, platform=chosen.platform)
    if output == "-":
        sys.stdout.flush()
        result = image_rootfs(image, sys.stdout.buffer)
        sys.stdout.buffer.flush()
    else:
        import os
        import tempfile
        from pathlib import Path

        target = Path(output)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or None)
        try:
            with os.fdopen(fd, "wb") as out:
                result = image_rootfs(image, out)
            os.replace(tmp, target)  # a complete tar or none: never half of one
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    to_stderr = output == "-"
    if fmt == "json":
        data = result.to_dict()
        data["output"] = output
        if to_stderr:
            import json

            click.echo(json.dumps(data, indent=2, ensure_ascii=False), err=True)
        else:
            emit_json(data)
        return
    stats = result.stats
    if not quiet:
        click.echo(
            f"{result.platform}: {result.layers} layers -> {stats.entries} entries "
            f"({stats.files} files, {stats.file_bytes} bytes; {stats.directories} directories, "
            f"{stats.symlinks} symlinks, {stats.hardlinks} hard links), {result.size} bytes "
            "of tar",
            err=True,
        )
    click.echo(str(result.digest), err=to_stderr)
