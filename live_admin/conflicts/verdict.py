"""An action's selection, or a delete, checked against what the page showed (:mod:`.seen`).

One query loads the selected rows (500 at a time), one asks which still match the list, and, for
rows that changed, one reads the admin's own change log for who changed them and when. For "Select
all", the rows the page showed are checked the same way; the rest of the matching set by its count
and by the change log since the list was shown (see docs/conflicts.md, "Actions").
"""

from __future__ import annotations

import datetime
from contextlib import suppress
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import router
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils.text import capfirst

from ..protocol import display_name
from . import seen as seen_token
from .display import field_text
from .seen import Seen, changed, digests, texts, tracked

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

#: Selected rows checked one by one; past it, a selection is checked as "Select all" is.
LIMIT = 10_000
#: Changed rows a confirmation page lists; the rest are counted.
SHOWN = 100
_CHUNK = 500


@dataclass
class Row:
    """A selected row that changed, left the list or was deleted since the page showed it."""

    pk: str
    obj: Model | None
    #: "changed", "left" (no longer matches the list), "gone" (left, and no longer the user's
    #: to see) or "deleted"
    why: str
    #: (label, before, after) of each changed field the viewer may see; None: not shown.
    changes: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    hidden: int = 0  # changed fields the viewer may not see
    by: str | None = None
    at: datetime.datetime | None = None


@dataclass
class Verdict:
    rows: list[Row] = field(default_factory=list)
    more: int = 0  # changed rows past SHOWN
    unchanged: list[str] = field(default_factory=list)
    #: The current state of the rows checked, for the next token (pk → hashes, texts).
    fresh: dict[str, tuple[bytes, dict[str, str]]] = field(default_factory=dict)
    then: int | None = None  # "Select all": rows matching when shown, and now
    now: int | None = None
    logged: int = 0  # "Select all": other matching rows the change log says changed since
    by_count: bool = False  # past LIMIT: checked by count and change log only
    #: Rows that left the list: a choice to run anyway acknowledges them (see ``Seen.out``).
    out: set[str] = field(default_factory=set)

    @property
    def clean(self) -> bool:
        return not self.rows and not self.more and self.then == self.now and not self.logged


def check(
    admin: ModelAdmin[Any],
    request: HttpRequest,
    seen: Seen,
    selected: list[str],
    queryset: QuerySet[Any],
    *,
    across: bool = False,
) -> Verdict:
    """Compare the ``selected`` rows (pks as text) the token knows with the database, and with
    ``queryset`` (what the list shows now); with ``across``, the whole matching set too."""
    verdict = Verdict()
    keys = [pk for pk in dict.fromkeys(selected) if pk in seen.digests]
    if len(keys) > LIMIT:
        keys, verdict.by_count, across = [], True, True
    model = admin.model
    fields, secret = tracked(admin), seen_token.key()
    visible: set[str] | None = None  # read once a row changed
    db = router.db_for_read(model)
    it = iter(keys)
    while chunk := list(islice(it, _CHUNK)):
        values = _pks(model, chunk)
        current = {str(o.pk): o for o in model._base_manager.using(db).filter(pk__in=values)}
        listed = {str(pk) for pk in queryset.filter(pk__in=values).values_list("pk", flat=True)}
        for pk in chunk:
            obj = current.get(pk)
            now = None if obj is None else digests(obj, fields, secret)
            diff = [] if now is None else changed(fields, seen.digests[pk], now)
            if obj is not None and pk in listed and not diff:
                verdict.unchanged.append(pk)
            why = "deleted" if obj is None else "left" if pk not in listed else "changed"
            shown = seen.texts.get(pk, {})
            if why == "changed" and not diff:
                verdict.fresh[pk] = (now or b"", shown)  # as it was, texts too
                continue
            if why == "left":
                verdict.out.add(pk)
                if pk in seen.out and not diff:
                    continue  # out of the list when the user chose to run anyway: as stock
            if obj is not None:
                verdict.fresh[pk] = (now or b"", texts(obj, fields, shown))
            if len(verdict.rows) >= SHOWN:
                verdict.more += 1
                continue
            row = Row(pk, obj, why)
            if visible is None:
                visible = _visible(admin, request, seen)
            may_see = obj is not None and admin.has_view_or_change_permission(request, obj)
            for f in diff:
                if f.name not in visible or not may_see:
                    row.hidden += 1
                    continue
                before = seen.texts.get(pk, {}).get(f.name)
                after = field_text(obj, f) if before is not None and obj is not None else None
                row.changes.append((capfirst(str(f.verbose_name)), before, after))
            verdict.rows.append(row)
    _unseen(admin, request, verdict)
    _who(admin, verdict, seen)
    if across and seen.count is not None:
        verdict.then, verdict.now = seen.count, queryset.count()
        verdict.logged = _logged(admin, queryset, seen, set(keys))
    return verdict


def _unseen(admin: ModelAdmin[Any], request: HttpRequest, verdict: Verdict) -> None:
    """Rows that left the list and that the user may no longer see (the admin's own
    ``get_queryset``) are named by their id only: nothing of what they are now."""
    left = [row for row in verdict.rows if row.why == "left"]
    if not left:
        return
    keys = _pks(admin.model, [row.pk for row in left])
    seen = {
        str(pk)
        for pk in admin.get_queryset(request).filter(pk__in=keys).values_list("pk", flat=True)
    }
    for row in left:
        if row.pk not in seen:
            row.obj, row.changes, row.hidden, row.why = None, [], 0, "gone"


def _pks(model: type[Model], keys: list[str]) -> list[Any]:
    found = []
    for key in keys:
        try:
            found.append(model._meta.pk.to_python(key))
        except (ValidationError, TypeError, ValueError):
            continue
    return found


def _visible(admin: ModelAdmin[Any], request: HttpRequest, seen: Seen) -> set[str]:
    """The fields the viewer may see: the list's columns the page showed, and the change
    form's fields for this user."""
    names = {name for shown in seen.texts.values() for name in shown}
    with suppress(Exception):  # an admin whose get_fields needs an object: the columns only
        names.update(str(name) for name in admin.get_fields(request))
    return names


def _content_types(admin: ModelAdmin[Any]) -> list[ContentType]:
    """The model's, and its concrete model's (a proxy's admin logs under the proxy's)."""
    found = ContentType.objects.get_for_models(admin.model, for_concrete_models=False)
    concrete = ContentType.objects.get_for_model(admin.model)
    return list({*found.values(), concrete})


def _since(seen: Seen, pk: str | None = None) -> datetime.datetime:
    """When the page was made, as the log's times are kept (aware only with USE_TZ)."""
    at = seen.times.get(pk, seen.since) if pk is not None else seen.since
    if settings.USE_TZ:
        return datetime.datetime.fromtimestamp(at or 0, tz=datetime.timezone.utc)
    return datetime.datetime.fromtimestamp(at or 0)  # local time, as timezone.now() gives


def _who(admin: ModelAdmin[Any], verdict: Verdict, seen: Seen) -> None:
    """Who last changed each listed row since the page showed it, from the admin's log."""
    rows = {row.pk: row for row in verdict.rows if row.why != "gone"}
    if not rows:
        return
    entries = (
        LogEntry.objects.filter(
            content_type__in=_content_types(admin),
            object_id__in=list(rows),
            action_time__gte=_since(seen),
        )
        .select_related("user")
        .order_by("action_time")
    )
    for entry in entries:
        row = rows.get(entry.object_id)
        if row is not None and entry.action_time >= _since(seen, row.pk):
            row.by, row.at = display_name(entry.user), entry.action_time


def _logged(admin: ModelAdmin[Any], queryset: QuerySet[Any], seen: Seen, checked: set[str]) -> int:
    """How many rows now matching the list the admin's log says changed since it was shown,
    besides those checked one by one (at most LIMIT read)."""
    ids = (
        LogEntry.objects.filter(
            content_type__in=_content_types(admin), action_time__gte=_since(seen)
        )
        .order_by()  # the log's own ordering would make DISTINCT keep duplicates
        .values_list("object_id", flat=True)
        .distinct()[:LIMIT]
    )
    others = [pk for pk in ids if pk not in checked]
    if not others:
        return 0
    found: int = queryset.filter(pk__in=_pks(admin.model, others)).count()
    return found
