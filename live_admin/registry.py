"""Which ModelAdmins are live, found on every admin site without importing the mixin's module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.contrib.admin.sites import all_sites
from django.db.models import Model


class LiveAdmin:
    """The base of every live ModelAdmin (``LiveAdminMixin`` derives from it)."""


def is_live(admin: object) -> bool:
    """Is ``admin`` (a ModelAdmin instance or class) live?"""
    if isinstance(admin, type):
        return issubclass(admin, LiveAdmin)
    return isinstance(admin, LiveAdmin)


def live_admins(model: type[Model]) -> list[Any]:
    """The live ModelAdmins registered for ``model`` on every admin site."""
    found = []
    for site in list(all_sites):
        admin = site._registry.get(model)
        if isinstance(admin, LiveAdmin):
            found.append(admin)
    return found


def registered() -> Iterator[tuple[Any, type[Model], Any]]:
    """``(site, model, admin)`` for every live ModelAdmin registered on any admin site."""
    for site in list(all_sites):
        for model, admin in list(site._registry.items()):
            if isinstance(admin, LiveAdmin):
                yield site, model, admin
