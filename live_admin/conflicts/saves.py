"""The ModelAdmin side of conflict-safe saves (see :mod:`live_admin.conflicts.token`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.db import router, transaction
from django.db.models import Model
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .. import options
from ..conf import CONFLICT_MODES, get_config
from . import checked
from . import token as conflicts

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

    _Base = ModelAdmin[Any]
else:
    _Base = object

_NOT_SAVED = _("“%(object)s” was not saved: someone else changed it while you were editing.")
_REFUSED = _("“%(object)s” was not saved: someone else changed %(fields)s while you were editing.")


class CheckedSaves(_Base):
    """Checks change-form and list_editable saves against the state they were rendered from.

    ``live_conflicts``: ``"merge"``, ``"refuse"`` or ``"off"``; None takes
    ``LIVE_ADMIN["CONFLICTS"]``.
    """

    live_conflicts: str | None = None

    def _live_conflict_mode(self) -> str:
        """How saves are checked against changes made meanwhile (a bad value is check E012's)."""
        mode = self.live_conflicts
        if mode is None:
            mode = get_config()["CONFLICTS"]
        return mode if mode in CONFLICT_MODES else "merge"

    @contextmanager
    def _live_checking(
        self, request: HttpRequest, kind: str, object_id: str | None = None
    ) -> Iterator[None]:
        """Check the save of a change form (``kind`` "change_form", ``object_id``) or of a
        list_editable changelist ("change_list") against the state token it was rendered with:
        in one transaction that starts by locking the rows, before anything reads them."""
        state: dict[str, Any] | None = None
        rows: dict[str, Any] = {}
        if request.method == "POST" and self._live_conflict_mode() != "off":
            pk = self.model._meta.pk
            if kind == "change_form" and object_id is not None and "_saveasnew" not in request.POST:
                try:
                    key = str(pk.to_python(unquote(object_id)))
                except (ValidationError, ValueError, TypeError):
                    key = None  # the stock view says the object does not exist
                if key is not None:
                    state = conflicts.read_token(request, f"{self.model._meta.label_lower}:{key}")
                    rows = {"pk": key}
            elif kind == "change_list" and self.list_editable and "_save" in request.POST:
                state = conflicts.read_token(request, None)
                rows = {"pk__in": conflicts.posted_pks(request, pk)}
        if state is None:
            yield
            return
        conflicts.begin(request, state)
        db = router.db_for_write(self.model)
        try:
            with transaction.atomic(using=db):
                conflicts.lock(self.model, db, **rows)
                yield
        finally:
            conflicts.begin(request, None)

    def get_form(
        self, request: HttpRequest, obj: Model | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)  # UserAdmin: no slot
        state = conflicts.state_of(request)
        if state is not None and change and obj is not None:
            quiet = frozenset(options.excluded(self))
            return checked.checked_form(
                form, self._live_conflict_mode(), base=state["f"], quiet=quiet
            )
        return form

    def get_formsets_with_inlines(self, request: HttpRequest, obj: Model | None = None) -> Any:
        state = conflicts.state_of(request)
        for formset, inline in super().get_formsets_with_inlines(request, obj):
            if state is not None and obj is not None:
                formset = checked.checked_formset(
                    formset, self._live_conflict_mode(), state.get("r", {})
                )
            yield formset, inline

    def get_changelist_formset(self, request: HttpRequest, **kwargs: Any) -> Any:
        formset = super().get_changelist_formset(request, **kwargs)
        state = conflicts.state_of(request)
        if state is None:
            return formset
        mode = self._live_conflict_mode()
        found = request._live_admin_formsets = []  # type: ignore[attr-defined]
        quiet = frozenset(options.excluded(self))
        return checked.checked_formset(formset, mode, state.get("r", {}), found=found, quiet=quiet)

    def _live_form_state(self, context: dict[str, Any], obj: Model) -> dict[str, Any]:
        """The change form's state token and, after a conflict, what the conflict panel shows."""
        adminform = context.get("adminform")
        if adminform is None or self._live_conflict_mode() == "off":
            return {}
        form = adminform.form
        formsets = [inline.formset for inline in context.get("inline_admin_formsets", ())]
        return {
            "state": conflicts.token(obj, form, formsets),
            "conflicts": checked.collected(form, formsets),
        }

    def _live_list_state(self, request: HttpRequest, response: Any) -> dict[str, Any]:
        """After a changelist view: report the list rows a save skipped, and the list's token."""
        for formset in getattr(request, "_live_admin_formsets", ()):
            self._live_report(request, formset, saved=response.status_code == 302)
        cl = (getattr(response, "context_data", None) or {}).get("cl")
        if cl is None or cl.formset is None or self._live_conflict_mode() == "off":
            return {}
        return {"state": conflicts.token(None, None, [cl.formset])}

    def _live_report(self, request: HttpRequest, formset: Any, saved: bool) -> None:
        """Tell the user which list rows were not saved because of changes made meanwhile: as a
        message when the rest was saved, as the rows' own errors when the list comes back."""
        for form in formset.forms:
            if not getattr(form, "live_skipped", False):
                continue
            if form.live_lost:  # deleted meanwhile
                messages.warning(request, checked.lost_row(form))
                continue
            refused = str(_REFUSED) % {"object": form.instance, "fields": form.live_refused}
            if not saved:
                for item in form.live_conflicts:
                    name = item["name"].rpartition("-")[2]
                    form.add_error(name, checked.list_error(item, again=True))
                if form.live_refused:
                    form.add_error(None, refused)
            elif form.live_refused:
                messages.error(request, refused)
            else:
                details = " ".join(checked.list_error(item) for item in form.live_conflicts)
                messages.error(request, f"{_NOT_SAVED % {'object': form.instance}} {details}")

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        for line in checked.lost(formsets):
            messages.warning(request, line)
