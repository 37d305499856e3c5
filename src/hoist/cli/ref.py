"""``hoist ref``: parse a reference."""

from __future__ import annotations

import click

from hoist.cli.common import emit_json, format_option, table


@click.command("ref")
@click.argument("reference")
@format_option("text", "json")
def ref(reference: str, fmt: str) -> None:
    """Show the canonical form and the parts of REFERENCE."""
    from hoist.model.reference import LayoutReference, parse_reference

    r = parse_reference(reference)
    if isinstance(r, LayoutReference):
        info = {
            "reference": str(r),
            "scheme": r.scheme,
            "path": r.path,
            "tag": r.tag,
            "digest": str(r.digest) if r.digest else None,
        }
    else:
        info = {
            "reference": str(r),
            "familiar": r.familiar,
            "registry": r.registry,
            "repository": r.repository,
            "tag": r.tag,
            "digest": str(r.digest) if r.digest else None,
        }
    if fmt == "json":
        emit_json(info)
    else:
        click.echo(table([(f"{k}:", v if v is not None else "-") for k, v in info.items()]))
