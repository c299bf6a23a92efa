"""Change badges on the admin index and app index pages, through the site's own templates.

A live ModelAdmin's site gets :class:`IndexTemplate` objects as its ``index_template`` and
``app_index_template``. Each renders the template the site would have rendered (the one it set,
else the admin's per-app candidates) and, when badges are on, extends it with live_admin's
script and the badges' configuration. ``TemplateResponse`` renders any object with a
``render(context, request)`` method, so the views and their context stay the admin's own.
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin import AdminSite
from django.http import HttpRequest
from django.template.loader import get_template, select_template
from django.utils.safestring import SafeString

from . import themes
from .conf import get_config

INDEX = "index"
APP_INDEX = "app_index"


class IndexTemplate:
    """An admin site's index (or app index) template, with change badges."""

    def __init__(self, kind: str, original: Any) -> None:
        self.kind = kind
        #: What the site had: a template name, a list of names, a template, or None.
        self.original = original

    def __repr__(self) -> str:
        return f"<live_admin {self.kind} template over {self.original!r}>"

    def base(self, context: dict[str, Any]) -> Any:
        """The template the site would render."""
        names = self.original
        if names is None:
            if self.kind == INDEX:
                names = "admin/index.html"
            else:
                label = context.get("app_label", "")
                names = [f"admin/{label}/app_index.html", "admin/app_index.html"]
        if isinstance(names, str):
            return get_template(names)
        if isinstance(names, (list, tuple)):
            return select_template(names)
        return names

    def render(
        self, context: dict[str, Any] | None = None, request: HttpRequest | None = None
    ) -> SafeString:
        context = context or {}
        base = self.base(context)
        user = getattr(request, "user", None)
        if not (get_config()["BADGES"] and user is not None and user.is_authenticated):
            return base.render(context, request)
        live = {
            "base": base,
            "theme": themes.active()[1],
            "ws_path": "/" + get_config()["WS_PATH"].lstrip("/"),
        }
        return get_template("live_admin/index.html").render(
            {**context, "live_admin": live}, request
        )


def attach(site: AdminSite) -> None:
    """Give ``site`` the badge-showing index templates (once; what it had stays underneath)."""
    for attr, kind in (("index_template", INDEX), ("app_index_template", APP_INDEX)):
        current = getattr(site, attr)
        if not isinstance(current, IndexTemplate):
            setattr(site, attr, IndexTemplate(kind, current))
