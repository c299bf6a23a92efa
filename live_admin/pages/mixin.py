"""The ModelAdmin mixin that makes an admin's pages live."""

from __future__ import annotations

import re
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.template.loader import select_template
from django.template.response import TemplateResponse
from django.urls import URLPattern, reverse
from django.utils import timezone
from django.utils.translation import get_language

from .. import options
from ..capture.observers import observe
from ..capture.record import acting, batch
from ..conf import get_config
from ..conflicts.actions import CheckedActions
from ..conflicts.saves import CheckedSaves
from ..delivery import badges
from ..protocol import display_name, page_limits
from ..realtime.layouts import layout_token
from ..registry import LiveAdmin, registered_admins
from . import index, rows, themes
from .strings import page_strings_json

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
#: What a live changelist or change form renders; it extends the admin's own template.
PAGE_TEMPLATE = "live_admin/page.html"
_ORIGIN = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")


class LiveAdminMixin(CheckedSaves, CheckedActions, LiveAdmin, _Base):
    """Mix into a ModelAdmin to broadcast its model's changes to live admin pages.

    ``live_fields``: only changes to these fields are broadcast (default: every field).
    ``live_exclude``: changes to these fields alone are not broadcast, nor named beside others;
    None (the default) excludes ``last_login`` of the user model, which every login saves.
    ``live_group_by``: fields whose values form object groups that pages can subscribe to.
    ``live_conflicts``: ``"merge"``, ``"refuse"`` or ``"off"`` (see
    :mod:`live_admin.conflicts.token`); None takes ``LIVE_ADMIN["CONFLICTS"]``.
    ``live_action_checks``: ``"confirm"``, ``"refuse"`` or ``"off"`` (see
    :mod:`live_admin.conflicts.actions`); None takes ``LIVE_ADMIN["ACTION_CHECKS"]``.
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
    _live_settings_label: str | None = None

    def _live_page(
        self, request: HttpRequest, kind: str, obj: Model | None = None
    ) -> dict[str, Any]:
        """What the injected templates need: the template to extend and the page's config."""
        config = get_config()
        group = self._live_group(request) if kind == "change_list" else None
        return {
            "base": None,  # the template the admin renders (see _render_live)
            "ws_path": "/" + config["WS_PATH"].lstrip("/"),
            "stream_path": "/" + config["STREAM_PATH"].lstrip("/"),
            "model": self.model._meta.label_lower,
            "pk": None if obj is None else str(obj.pk),
            "group_field": group and group[0],
            "group_value": group and group[1],
            "debounce_ms": config["DEBOUNCE_MS"],
            "reconnect_ms": config["RECONNECT_MS"],
            "origin_field": ORIGIN_FIELD,
            "login_url": reverse(f"{self.admin_site.name}:login"),
            # The zone the admin shows times in, for the times the page says.
            "time_zone": timezone.get_current_timezone_name() if settings.USE_TZ else "",
            "strings_json": page_strings_json(get_language()),
            "refresh": request.headers.get(REFRESH_HEADER) == "1",
            "unsaved": kind == "change_form" and request.method == "POST",
            "state": None,  # the conflict token (set once the form or list is known)
            "seen": None,  # what a list with actions shows, for checked actions
            "conflicts": [],
            "layout": None,  # a changelist's layout token, for row refreshes
            "theme": themes.active()[1],
            "changelist": kind == "change_list",
            "limits": page_limits(),
        }

    def _live_group(self, request: HttpRequest) -> tuple[str, str] | None:
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
        with self.live_acting(request), self._live_checking(request, "change_form", object_id):
            return super().changeform_view(request, *args, **kwargs)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        started = time.time()
        live = self._live_page(request, "change_list")
        extra_context = {**(extra_context or {}), "live_admin": live}
        pks = rows.requested(request, self.model) if self.live_row_refreshes else None
        request._live_admin_rows = pks  # type: ignore[attr-defined]
        with self.live_acting(request), self._live_checking(request, "change_list"):
            response = super().changelist_view(request, extra_context)
        live.update(self._live_list_state(request, response))
        live.update(self._live_seen_state(response, started, rows=pks is not None))
        cl = (getattr(response, "context_data", None) or {}).get("cl")
        if cl is not None and pks is None and not live["refresh"] and not cl.is_popup:
            self._live_opened(request)
        if cl is not None and pks is not None:
            response.template_name = live["theme"].rows_template  # type: ignore[attr-defined]
            return response
        if cl is not None:
            _render_live(response, live)
        if cl is not None and self.live_row_refreshes:
            fields = self.get_live_layout(request, cl)
            label = self.model._meta.label_lower
            live["layout"] = None if fields is None else layout_token(fields, label)
        return response

    def _live_opened(self, request: HttpRequest) -> None:
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
        live = context["live_admin"] = self._live_page(request, "change_form", obj)
        if change and obj is not None:
            live.update(self._live_form_state(context, obj))
        response = super().render_change_form(request, context, add, change, form_url, obj)
        _render_live(response, live)
        return response

    def get_urls(self) -> list[URLPattern]:
        # The site builds its URLs from its registered admins: an admin registered after start-up
        # (by hand, on a site of its own) is prepared here.
        prepare(self)
        return super().get_urls()

    def delete_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with self.live_acting(request):
            return super().delete_view(request, *args, **kwargs)


def _render_live(response: HttpResponse, live: dict[str, Any]) -> None:
    """Render the admin's own ``response`` (not rendered yet) through live_admin's page, which
    extends the template the admin chose: its own ``change_list_template`` or
    ``change_form_template`` (or another mixin's), else the admin's per-model candidates."""
    if not isinstance(response, TemplateResponse) or response.is_rendered:
        return
    name = response.template_name
    if isinstance(name, (str, list, tuple)):
        live["base"] = select_template([name] if isinstance(name, str) else list(name))
    else:  # a Template object
        live["base"] = name
    response.template_name = PAGE_TEMPLATE


#: The admins prepared in this process (see :func:`prepare`).
_prepared: weakref.WeakSet[Any] = weakref.WeakSet()


def prepare(admin: LiveAdminMixin) -> None:
    """Set up, once per registered admin, what it needs outside itself: its model's observers
    (the ``from_db`` hook included) and its site's index badges. Run for every admin registered
    at start-up (the app's ``ready()``) and by the site when it builds its URLs."""
    if admin in _prepared:
        return
    _prepared.add(admin)
    observe(admin)
    if admin.admin_site is not None:
        index.attach(admin.admin_site)


def prepare_registered() -> None:
    """:func:`prepare` every live admin registered on any site."""
    for admin in registered_admins():
        prepare(admin)
