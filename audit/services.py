"""Writing the audit log. Called by ``tickets`` and ``checkin`` services inside the
transaction of the change they record."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models

from audit.actions import ACTIONS
from audit.context import current_actor
from audit.models import AuditEntry

# A value recorded in ``data`` is cut to this many characters: the log says what changed,
# it is not a second copy of every long text.
VALUE_LIMIT = 500


def _plain(value: Any) -> Any:
    """A JSON-safe, bounded copy of a field value."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        # one spelling per instant: the same time read back from the database is not a change
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, Mapping):
        return {str(k)[:64]: _plain(v) for k, v in list(value.items())[:50]}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in list(value)[:50]]
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return str(value)[:VALUE_LIMIT]


def editable_fields(model: type[models.Model]) -> list[str]:
    """The fields an organiser edits (counters and keys are not ``editable``): what an edit's
    entry compares."""
    return [f.attname if f.is_relation else f.name for f in model._meta.concrete_fields
            if f.editable and not f.primary_key]


def snapshot(instance: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """The recorded values of ``fields`` (call before and after a change, then ``changes``)."""
    return {name: _plain(getattr(instance, name)) for name in fields}


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list]:
    """``{"field": [before, after]}`` for every field whose recorded value changed."""
    return {name: [before.get(name), value] for name, value in after.items()
            if before.get(name) != value}


def record(action: str, *, organiser_id: int, event_id: int | None = None,
           attendee_id: int | None = None, target: models.Model | None = None,
           target_label: str | None = None, data: Mapping[str, Any] | None = None
           ) -> AuditEntry:
    """Record ``action`` (a code of ``audit.actions.ACTIONS``) by the current actor."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}: add it to audit.actions.ACTIONS")
    actor = current_actor()
    return AuditEntry.objects.create(
        organiser_id=organiser_id, event_id=event_id, attendee_id=attendee_id, action=action,
        object_type=target._meta.model_name if target is not None else "",
        object_id=target.pk if target is not None else None,
        object_label=(target_label if target_label is not None else str(target or ""))[:300],
        actor_kind=actor.kind, actor_user_id=actor.user_id, actor_label=actor.label,
        via=actor.via, data=_plain(dict(data or {})),
    )
