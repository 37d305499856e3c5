"""Mirroring many images from a config, within quotas, resumably: ``hoist sync``.

::

    from hoist import Client
    from hoist.sync import load_config, sync_apply, sync_plan

    config = load_config("sync.yaml")
    with Client() as client:
        plan = sync_plan(client, config)          # missing / changed / up to date, bytes
        result = sync_apply(client, config, plan, jobs=4)

- :mod:`~hoist.sync.config`: the YAML config, typed and checked (:class:`SyncConfig`);
- :mod:`~hoist.sync.select`: tag selection (patterns, semver ranges, newest N, since);
- :mod:`~hoist.sync.plan`: what moves, decided with tag lists and HEADs (:class:`Plan`, JSON);
- :mod:`~hoist.sync.apply`: carrying a plan out (:class:`ApplyResult`), with the journal of
  :mod:`~hoist.sync.journal` and the run's memory of :mod:`~hoist.sync.memory`;
- :mod:`~hoist.sync.events`: what a run reports (typed events, NDJSON);
- :mod:`~hoist.sync.serve` and :mod:`~hoist.sync.cron`: on a schedule.
"""

from __future__ import annotations

from hoist.sync.apply import ApplyResult, Failure, sync_apply
from hoist.sync.config import (
    InvalidSyncConfig,
    Rule,
    SyncConfig,
    TagRules,
    load_config,
    parse_config,
)
from hoist.sync.events import Event, EventSink, NDJSONWriter
from hoist.sync.plan import Plan, PlanError, PlanImage, PlanSummary, sync_plan

__all__ = [
    "ApplyResult",
    "Event",
    "EventSink",
    "Failure",
    "InvalidSyncConfig",
    "NDJSONWriter",
    "Plan",
    "PlanError",
    "PlanImage",
    "PlanSummary",
    "Rule",
    "SyncConfig",
    "TagRules",
    "load_config",
    "parse_config",
    "sync_apply",
    "sync_plan",
]
