"""Change badges on the admin index and app index pages, around the site's own views.

A live ModelAdmin's site has its ``index`` and ``app_index`` views wrapped (on the instance, before
its URLs are built). The wrapped view returns the admin's own ``TemplateResponse``, untouched but
for how it renders: the template it names (``index_template``, or the admin's per-app candidates)
is resolved as usual, then, when badges are on and the user is logged in, extended with
live_admin's script and the badges' configuration. The site's attributes, the response's
``template_name`` and its context stay the admin's own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib.admin import AdminSite
from django.http import HttpRequest
from django.template.loader import get_template
from django.template.response import SimpleTemplateResponse
from django.utils.safestring import SafeString

from ..conf import get_config
from . import themes

MARK = "live_admin_badges"


class IndexTemplate:
    """A resolved index (or app index) template, rendered with change badges."""

    def __init__(self, base: Any) -> None:
        self.base = base

    def render(
        self, context: dict[str, Any] | None = None, request: HttpRequest | None = None
    ) -> SafeString:
        context = context or {}
        user = getattr(request, "user", None)
        if not (get_config()["BADGES"] and user is not None and user.is_authenticated):
            return SafeString(self.base.render(context, request))
        config = get_config()
        live = {
            "base": self.base,
            "theme": themes.active()[1],
            "ws_path": "/" + config["WS_PATH"].lstrip("/"),
            "reconnect_ms": config["RECONNECT_MS"],
        }
        return SafeString(
            get_template("live_admin/index.html").render({**context, "live_admin": live}, request)
        )


def _with_badges(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def index_view(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        response = view(request, *args, **kwargs)
        if isinstance(response, SimpleTemplateResponse) and not response.is_rendered:
            resolve = response.resolve_template
            # Rendering with badges, the response otherwise the admin's own (see the docstring).
            response.resolve_template = lambda name: IndexTemplate(resolve(name))  # type: ignore[method-assign,assignment]
        return response

    setattr(index_view, MARK, True)
    return index_view


def attach(site: AdminSite) -> None:
    """Wrap ``site``'s index views for badges (once; a site whose URLs were built already
    serves the views it had)."""
    for name in ("index", "app_index"):
        view = getattr(site, name)
        if not getattr(view, MARK, False):
            setattr(site, name, _with_badges(view))
