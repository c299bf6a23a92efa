"""The ModelAdmin mixin that makes an admin's pages live."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.template.loader import select_template
from django.urls import reverse
from django.utils.translation import get_language, override
from django.utils.translation import gettext_lazy as _

from .. import options
from ..capture.observers import observe
from ..capture.record import acting, batch
from ..conf import get_config
from ..conflicts.saves import CheckedSaves
from ..delivery import badges
from ..protocol import display_name
from ..realtime.layouts import layout_token
from ..registry import LiveAdmin
from . import index, rows, themes

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

    _Base = ModelAdmin[Any]
else:
    _Base = object

__all__ = ["ORIGIN_FIELD", "ORIGIN_HEADER", "REFRESH_HEADER", "LiveAdminMixin"]

#: A live page sends its origin id with its writes, as this header or this form field.
ORIGIN_HEADER = "X-Live-Admin-Origin"
#: Sent by the page when it re-fetches itself after a change; only the swapped parts render.
REFRESH_HEADER = "X-Live-Admin-Refresh"
ORIGIN_FIELD = "_live_origin"
_ORIGIN = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")

#: Everything the page script shows, translated on the server and handed over as data.
STRINGS = {
    "connecting": _("Connecting…"),
    "live": _("Live"),
    "reconnecting": _("Reconnecting…"),
    "offline": _("Offline"),
    "heldOne": _("1 update — show"),
    "heldMany": _("%(count)s updates — show"),
    "unreachable": _("Server unreachable — retrying…"),
    "loggedOut": _("Offline: logged out."),
    "logIn": _("Log in again"),
    "forbidden": _("Offline: not allowed to follow this page."),
    "changedOne": _("1 row changed"),
    "changedMany": _("%(count)s rows changed"),
    "addedOne": _("1 added"),
    "addedMany": _("%(count)s added"),
    "removedOne": _("1 removed"),
    "removedMany": _("%(count)s removed"),
    "changedBy": _("%(by)s changed this object at %(at)s."),
    "changed": _("This object was changed at %(at)s."),
    "keepEdits": _("Your unsaved changes are kept until you choose."),
    "reload": _("Reload (discard my changes)"),
    "deleted": _("This object was deleted. Saving is disabled."),
    "isEditing": _("%(name)s is editing"),
    "isViewing": _("%(name)s is viewing"),
}


#: What a change badge says to a screen reader (and in its tooltip).
BADGE_STRINGS = {
    "one": _("1 changed since you last opened the list"),
    "many": _("%(count)s changed since you last opened the list"),
    "more": _("%(count)s or more changed since you last opened the list"),
}


def _translated_json(strings: dict[str, Any], language: str | None) -> str:
    with override(language):
        return json.dumps({key: str(value) for key, value in strings.items()})


@lru_cache(maxsize=64)
def page_strings_json(language: str | None) -> str:
    """STRINGS translated into ``language``, as the page script reads them (once a language)."""
    return _translated_json(STRINGS, language)


@lru_cache(maxsize=64)
def badge_strings_json(language: str | None) -> str:
    """BADGE_STRINGS translated into ``language``, as badges.js reads them (once a language)."""
    return _translated_json(BADGE_STRINGS, language)


class LiveAdminMixin(CheckedSaves, LiveAdmin, _Base):
    """Mix into a ModelAdmin to broadcast its model's changes to live admin pages.

    ``live_fields``: only changes to these fields are broadcast (default: every field).
    ``live_exclude``: changes to these fields alone are not broadcast, nor named beside others;
    None (the default) excludes ``last_login`` of the user model, which every login saves.
    ``live_group_by``: fields whose values form object groups that pages can subscribe to.
    ``live_conflicts``: ``"merge"``, ``"refuse"`` or ``"off"`` (see
    :mod:`live_admin.conflicts.token`); None takes ``LIVE_ADMIN["CONFLICTS"]``.
    ``live_row_refreshes``: False makes every change refresh the whole changelist (see
    :mod:`live_admin.pages.rows`).
    ``live_badges``: False shows no change badge for the model (see
    :mod:`live_admin.delivery.badges`); badges count every object, so an admin whose
    ``get_queryset`` hides rows per user sets it.
    """

    live_fields: Sequence[str] | None = None
    live_exclude: Sequence[str] | None = None
    live_group_by: Sequence[str] = ()
    live_row_refreshes: bool = True
    live_badges: bool = True
    #: The ``LIVE_ADMIN["MODELS"]`` label that made this admin live, if settings did.
    live_settings_label: str | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Our templates extend whatever this admin would have rendered: a template set by the
        # ModelAdmin or another mixin, else the admin's usual per-model candidates.
        meta = self.model._meta
        self.live_base_templates = {
            kind: getattr(self, f"{kind}_template")
            or [
                f"admin/{meta.app_label}/{meta.model_name}/{kind}.html",
                f"admin/{meta.app_label}/{kind}.html",
                f"admin/{kind}.html",
            ]
            for kind in ("change_list", "change_form")
        }
        self.change_list_template = "live_admin/page.html"
        self.change_form_template = "live_admin/page.html"
        observe(self)
        if self.admin_site is not None:  # Django's own tests build admins with no site
            index.attach(self.admin_site)

    def live_page(
        self, request: HttpRequest, kind: str, obj: Model | None = None
    ) -> dict[str, Any]:
        """What the injected templates need: the template to extend and the page's config."""
        config = get_config()
        base = self.live_base_templates[kind]
        group = self.live_group(request) if kind == "change_list" else None
        return {
            "base": select_template([base] if isinstance(base, str) else base),
            "ws_path": "/" + config["WS_PATH"].lstrip("/"),
            "model": self.model._meta.label_lower,
            "pk": None if obj is None else str(obj.pk),
            "group_field": group and group[0],
            "group_value": group and group[1],
            "debounce_ms": config["DEBOUNCE_MS"],
            "reconnect_ms": config["RECONNECT_MS"],
            "origin_field": ORIGIN_FIELD,
            "login_url": reverse(f"{self.admin_site.name}:login"),
            "strings_json": page_strings_json(get_language()),
            "refresh": request.headers.get(REFRESH_HEADER) == "1",
            "unsaved": kind == "change_form" and request.method == "POST",
            "state": None,  # the conflict token (set once the form or list is known)
            "conflicts": [],
            "layout": None,  # a changelist's layout token, for row refreshes
            "theme": themes.active()[1],
            "changelist": kind == "change_list",
        }

    def live_group(self, request: HttpRequest) -> tuple[str, str] | None:
        """The ``live_group_by`` group a changelist is filtered to, if exactly one value of one
        such field is in its query string; the page then follows that group, not the model."""
        for name in options.group_by(self):
            field = self.model._meta.get_field(name)
            keys = {name, field.attname, f"{name}__exact", f"{field.attname}__exact"}
            if field.is_relation:
                keys |= {f"{name}__pk__exact", f"{name}__{field.target_field.name}__exact"}
            values = [value for key in keys for value in request.GET.getlist(key)]
            if len(values) == 1:
                return name, values[0]
        return None

    def has_live_group_permission(self, request: HttpRequest, field: str, value: object) -> bool:
        """May ``request.user`` follow the object group ``field=value``? Narrow it for tenants.

        Called after ``has_view_permission(request)`` passed. An admin whose ``get_queryset``
        filters rows per user should return False for the groups a user may not see, and its
        pages should subscribe to groups rather than to the whole model.
        """
        return True

    @contextmanager
    def live_acting(self, request: HttpRequest) -> Iterator[None]:
        """Attribute the writes made while serving ``request`` to its user and page, and coalesce
        them (an admin action saving rows one by one sends one message per group)."""
        origin = request.headers.get(ORIGIN_HEADER)
        if origin is None and request.method == "POST":
            origin = request.POST.get(ORIGIN_FIELD)
        if origin is not None and not _ORIGIN.match(origin):
            origin = None
        user = request.user
        by = None
        if user.is_authenticated:
            by = display_name(user)
        with acting(by, origin), batch():
            yield

    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        object_id = args[0] if args else kwargs.get("object_id")
        with self.live_acting(request), self.live_checking(request, "change_form", object_id):
            return super().changeform_view(request, *args, **kwargs)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        live = self.live_page(request, "change_list")
        extra_context = {**(extra_context or {}), "live_admin": live}
        pks = rows.requested(request, self.model) if self.live_row_refreshes else None
        request._live_admin_rows = pks  # type: ignore[attr-defined]
        with self.live_acting(request), self.live_checking(request, "change_list"):
            response = super().changelist_view(request, extra_context)
        live.update(self.live_list_state(request, response))
        cl = (getattr(response, "context_data", None) or {}).get("cl")
        if cl is not None and pks is None and not live["refresh"] and not cl.is_popup:
            self.live_opened(request)
        if cl is not None and pks is not None:
            response.template_name = live["theme"].rows_template  # type: ignore[attr-defined]
        elif cl is not None and self.live_row_refreshes:
            fields = self.get_live_layout(request, cl)
            label = self.model._meta.label_lower
            live["layout"] = None if fields is None else layout_token(fields, label)
        return response

    def live_opened(self, request: HttpRequest) -> None:
        """The user was shown the changelist: its change badge clears (queued, never blocks)."""
        if request.method == "GET" and get_config()["BADGES"]:
            badges.recorder.opened(request.user.pk, self.model._meta.label_lower)

    def get_live_layout(self, request: HttpRequest, changelist: Any) -> frozenset[str] | None:
        """The fields whose change could add, remove or move the rows of ``changelist``'s page
        (see :mod:`live_admin.pages.rows`); None refreshes its whole list for every change. Override
        to name what the default cannot read (a ``SimpleListFilter``'s fields, say)."""
        fields = rows.layout(changelist)
        if fields is None:
            return None
        # A change of a field that is not broadcast is not named: it could move rows unseen.
        group_by = {self.model._meta.get_field(name).name for name in options.group_by(self)}
        if fields & options.excluded(self) - group_by:
            return None
        live_fields = options.fields(self)
        if live_fields is None:
            return fields
        return fields if fields <= {*live_fields, *group_by, self.model._meta.pk.name} else None

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> Any:
        changelist = super().get_changelist(request, **kwargs)
        pks = getattr(request, "_live_admin_rows", None)
        return changelist if pks is None else rows.row_changelist(changelist, pks)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Model | None = None,
    ) -> HttpResponse:
        live = context["live_admin"] = self.live_page(request, "change_form", obj)
        if change and obj is not None:
            live.update(self.live_form_state(context, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def delete_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with self.live_acting(request):
            return super().delete_view(request, *args, **kwargs)
