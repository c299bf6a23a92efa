"""Template tags of live_admin's own templates."""

from __future__ import annotations

import json

from django import template
from django.utils.translation import get_language

from ..conf import get_config
from ..pages.strings import badge_strings_json
from ..registry import live_admins

register = template.Library()


@register.simple_tag(takes_context=True)
def live_admin_badges(context: template.Context) -> str:
    """The models the page shows change badges of, as JSON ``[{"model", "url"}]``: the live
    admins' models (with ``live_badges``) the admin lists for this user (``available_apps``),
    but the model of the changelist the page is."""
    if not get_config()["BADGES"]:
        return "[]"
    live = context.get("live_admin") or {}
    own = live.get("model") if live.get("changelist") else None
    out = []
    for app in context.get("available_apps") or ():
        for entry in app.get("models", ()):
            model, url = entry.get("model"), entry.get("admin_url")
            if model is None or not url:
                continue
            label = model._meta.label_lower
            if label != own and any(a.live_badges for a in live_admins(model)):
                out.append({"model": label, "url": url})
    return json.dumps(out, separators=(",", ":"))


@register.simple_tag
def live_admin_badge_strings() -> str:
    """The badges' words, translated, as the page script reads them."""
    return badge_strings_json(get_language())
