"""Which ModelAdmins are live, found on every admin site without importing the mixin's module."""

from __future__ import annotations

from typing import Any

from django.contrib.admin.sites import all_sites
from django.db.models import Model


class LiveAdmin:
    """The base of every live ModelAdmin (``LiveAdminMixin`` derives from it)."""


def is_live(admin: object) -> bool:
    """Is ``admin`` (a ModelAdmin) live?"""
    return isinstance(admin, LiveAdmin)


def live_admins(model: type[Model]) -> list[Any]:
    """The live ModelAdmins registered for ``model`` on every admin site."""
    found = []
    for site in list(all_sites):
        admin: object = site._registry.get(model)
        if isinstance(admin, LiveAdmin):
            found.append(admin)
    return found


def registered_admins() -> list[Any]:
    """Every live ModelAdmin registered on any admin site."""
    return [
        admin
        for site in list(all_sites)
        for admin in list(site._registry.values())
        if isinstance(admin, LiveAdmin)
    ]
