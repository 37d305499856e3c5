"""``hoist tag ls --sort semver|created [--reverse]`` and ``--digest D``: tags in another order,
and the tags that point at a digest."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from hoist.location import Location

__all__ = ["query_tags"]


def query_tags(
    where: Location,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    sort: str,
    *,
    reverse: bool = False,
    digest: str | None = None,
    last: str | None = None,
) -> list[str]:
    """The tags ``tag ls`` lists with ``--sort``, ``--reverse`` or ``--digest``: every tag read,
    filtered, kept if it points at ``digest`` (a HEAD each, in parallel), ordered, then those
    after ``last`` in that order."""
    from hoist.model.digest import Digest
    from hoist.tag_query import tag_sort, tags_at_digest, tags_created
    from hoist.tags import tag_filter

    wanted = None
    if digest:
        try:
            wanted = Digest.parse(digest)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--digest") from None
    tags = tag_filter(sorted(set(where.tag_list())), include, exclude)
    if wanted is not None:
        tags = tags_at_digest(where, wanted, tags)
    created = tags_created(where, tags) if sort == "created" else None
    ordered = tag_sort(tags, sort, reverse=reverse, created=created)
    if last is None:
        return ordered
    if last in ordered:
        return ordered[ordered.index(last) + 1 :]
    if sort == "name":
        return [t for t in ordered if (t < last if reverse else t > last)]
    raise click.BadParameter(
        f"{last!r} is not among the tags; with --sort {sort} it names one of them",
        param_hint="--last",
    )
