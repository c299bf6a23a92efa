"""Actions and deletes that know their rows changed: the ModelAdmin side (see :mod:`.seen`).

An action posted from a live list is run only if every selected row is as the list showed it.
Otherwise (``live_action_checks = "confirm"``, the default) a page in the admin's style says which
rows changed, by whom, when and how, which are gone, and offers to run the action on all of them
anyway, only on the unchanged ones, or to go back; ``"refuse"`` runs nothing and says why;
``"off"`` checks nothing. A delete page is checked the same way. A POST without a token (an old
page, a script) or with a bad one runs as on a stock admin.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import messages
from django.contrib.admin import helpers
from django.contrib.admin.options import TO_FIELD_VAR
from django.contrib.admin.utils import quote, unquote
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ..conf import ACTION_MODES, get_config
from . import seen, verdict
from .verdict import Verdict

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

    _Base = ModelAdmin[Any]
else:
    _Base = object

logger = logging.getLogger("live_admin")

#: Fields of an action's POST that the confirmation page does not carry on as they were.
_OWN = {"csrfmiddlewaretoken", helpers.ACTION_CHECKBOX_NAME, seen.SEEN_FIELD, "select_across"}
_OWN |= {"index", "action", "_live_state"}


class CheckedActions(_Base):
    """Checks actions and deletes against what the page showed.

    ``live_action_checks``: ``"confirm"``, ``"refuse"`` or ``"off"``; None takes
    ``LIVE_ADMIN["ACTION_CHECKS"]``.
    """

    live_action_checks: str | None = None

    def _live_action_mode(self) -> str:
        """How actions are checked (a bad value is check E021's, and counts as the default)."""
        mode = self.live_action_checks
        if mode is None:
            mode = get_config()["ACTION_CHECKS"]
        return mode if mode in ACTION_MODES else "confirm"

    def _live_seen_state(self, response: Any, started: float, *, rows: bool) -> dict[str, Any]:
        """After a changelist view with actions: the token of what it shows (``rows``: a row
        refresh, which does not count the list)."""
        context = getattr(response, "context_data", None) or {}
        cl = context.get("cl")
        if cl is None or context.get("action_form") is None or self._live_action_mode() == "off":
            return {}
        count = None if rows else cl.result_count
        shown = [name for name in cl.list_display if isinstance(name, str)]
        objs = list(cl.result_list)  # fetched here, once: the template reads the same list
        try:
            return {"seen": seen.token(self, objs, shown=shown, count=count, at=started)}
        except Exception:  # a field that cannot be read as text: the list is the stock one
            logger.exception("live_admin: no token of what %s's list shows", self.model.__name__)
            return {}

    def response_action(
        self, request: HttpRequest, queryset: QuerySet[Any], *args: Any, **kwargs: Any
    ) -> HttpResponse | None:
        # Django 6.1 runs actions from a change form too (``action_location``): those are left
        # as they are, the form's own token guards the object.
        location = args[0] if args else kwargs.get("action_location")
        listed = location is None or getattr(location, "value", location) == "CHANGE_LIST"
        mode = self._live_action_mode()
        chosen = _chosen(self, request) if mode != "off" and listed else None
        state = seen.read(request, self) if chosen is not None else None
        if chosen is None or state is None:
            return super().response_action(request, queryset, *args, **kwargs)
        name, across, selected = chosen
        found = verdict.check(self, request, state, selected, queryset, across=across)
        if found.clean:
            response = super().response_action(request, queryset, *args, **kwargs)
            if isinstance(response, HttpResponseBase) and response.status_code == 200:
                seen.inject(response, request.POST[seen.SEEN_FIELD])  # its second POST
            return response
        description = _description(self.get_actions(request)[name])
        if mode == "refuse":
            self.message_user(request, _refusal(description, found), messages.ERROR)
            return None  # the stock admin then redirects to the list
        return self._live_confirmation(
            request, found, title=description, action=name, across=across, selected=selected
        )

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if self._live_action_mode() == "off":
            return super().delete_view(request, object_id, extra_context)
        started = time.time()
        if request.method == "POST" and request.POST:  # the stock view deletes on any POST
            stale = self._live_stale_delete(request, object_id)
            if stale is not None:
                return stale
        response = super().delete_view(request, object_id, extra_context)
        obj = (getattr(response, "context_data", None) or {}).get("object")
        if isinstance(obj, self.model) and response.status_code == 200:
            try:
                fields = self._live_form_fields(request, obj)
                shown = [f.name for f in seen.tracked(self) if f.name in fields]
                token = seen.token(self, [obj], shown=shown, count=None, at=started)
            except Exception:  # as for a list: the page is the stock one
                logger.exception("live_admin: no token of %s's delete page", self.model.__name__)
            else:
                seen.inject(response, token)
        return response

    def _live_form_fields(self, request: HttpRequest, obj: Model) -> set[str]:
        """The fields the user's change form shows, whose texts the delete page's token keeps."""
        if not self.has_view_or_change_permission(request, obj):
            return set()
        form = self.get_form(request, obj)
        shown = set()
        for name in self.get_fields(request, obj):
            field = form.base_fields.get(str(name))
            if field is not None and _masked(field):
                continue  # a password, a hidden value: the form does not show it as it is
            shown.add(str(name))
        return shown

    def _live_stale_delete(self, request: HttpRequest, object_id: str) -> HttpResponse | None:
        """The answer to a delete confirmed on a page showing an object changed since; None
        when it did not change (or the page carried no token: then as stock)."""
        state = seen.read(request, self)
        to_field = request.POST.get(TO_FIELD_VAR, request.GET.get(TO_FIELD_VAR))
        if state is None or (to_field and not self.to_field_allowed(request, to_field)):
            return None  # the stock view says what is wrong
        obj = self.get_object(request, unquote(object_id), to_field)
        if obj is None or not self.has_delete_permission(request, obj):
            return None
        found = verdict.check(self, request, state, [str(obj.pk)], self.get_queryset(request))
        if found.clean:
            return None
        if self._live_action_mode() == "refuse":
            self.message_user(request, _refusal(_("Delete"), found), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
        back = reverse(
            f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_change",
            args=[quote(obj.pk)],
        )
        return self._live_confirmation(
            request, found, title=_("Delete"), action=None, across=False, selected=[], back=back
        )

    def _live_confirmation(
        self,
        request: HttpRequest,
        found: Verdict,
        *,
        title: str,
        action: str | None,
        across: bool,
        selected: list[str],
        back: str | None = None,
    ) -> TemplateResponse:
        """The page that says what changed and asks what to do."""
        opts = self.model._meta
        carried = [
            (key, value)
            for key, values in request.POST.lists()
            if key not in _OWN and not key.startswith("form-")
            for value in values
        ]
        if action is not None:
            carried.append(("action", action))
            if "index" in request.POST:
                carried.append(("index", "0"))
        live = {pk: found.fresh[pk] for pk in selected if pk in found.fresh}
        count = found.now if across else None
        token = seen.sign(self, live if action else found.fresh, count=count, out=found.out)
        unchanged = [pk for pk in selected if pk in found.unchanged]
        context = {
            **self.admin_site.each_context(request),
            "title": _("Changed since you looked"),
            "subtitle": None,
            "opts": opts,
            "verdict": found,
            "action_title": title,
            "deleting": action is None,
            "carried": carried,
            "seen_field": seen.SEEN_FIELD,
            "seen": token,
            "selected": selected,
            "unchanged": unchanged if not across and len(unchanged) < len(selected) else [],
            "across": across,
            "back": back or request.get_full_path(),
            "total": found.now if across else len(selected),
        }
        templates = [
            f"admin/{opts.app_label}/{opts.model_name}/live_admin_confirmation.html",
            f"admin/{opts.app_label}/live_admin_confirmation.html",
            "live_admin/confirmation.html",
        ]
        request.current_app = self.admin_site.name
        return TemplateResponse(request, templates, context)


def _chosen(admin: ModelAdmin[Any], request: HttpRequest) -> tuple[str, bool, list[str]] | None:
    """The action a POST asks for (the button pressed, as the stock admin reads it), whether
    for all matching rows, and the selected pks; None when the stock admin would refuse it (an
    empty selection is the stock admin's to refuse: nothing is checked of it)."""
    try:
        index = int(request.POST.get("index", 0))
    except ValueError:
        index = 0
    names = request.POST.getlist("action")
    name = names[index] if 0 <= index < len(names) else None
    if name is None or name not in admin.get_actions(request):
        return None
    across = bool(forms.BooleanField(required=False).to_python(request.POST.get("select_across")))
    return name, across, request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)


def _masked(field: forms.Field) -> bool:
    """Whether a form field shows something else than its value (a password's summary)."""
    names = f"{type(field).__name__} {type(field.widget).__name__}".lower()
    return bool(field.widget.is_hidden) or "password" in names


def _description(action: Any) -> str:
    """An action's description: the third of a tuple, or (Django 6.1) an attribute."""
    return str(action[2] if isinstance(action, tuple) else action.description)


def _refusal(title: str, found: Verdict) -> str:
    changed = len(found.rows) + found.more
    if found.then is not None and found.then != found.now:
        why = _("%(then)s rows matched when the list was shown; %(now)s match now.") % {
            "then": found.then,
            "now": found.now,
        }
    else:
        why = ngettext(
            "%(n)s of the rows changed since the page showed them.",
            "%(n)s of the rows changed since the page showed them.",
            changed or found.logged,
        ) % {"n": changed or found.logged}
    return _("“%(action)s” was not run: %(why)s Look again and run it again.") % {
        "action": title,
        "why": why,
    }
