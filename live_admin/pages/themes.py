"""Where each admin theme puts what the page script reads: one selector map per theme.

The page script never names an element of the admin's markup itself; it reads these selectors
from the page (``data-theme`` on ``#live-admin``). The stock admin's are the defaults; a theme
lists only what it moves. To support another theme, add an entry here (and a browser test).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from functools import cache, cached_property
from typing import Any

from django.apps import apps
from django.core.signals import setting_changed
from django.dispatch import receiver

__all__ = ["THEMES", "Theme", "active"]


@dataclass(frozen=True)
class Theme:
    """CSS selectors of the parts of an admin page that live_admin reads or refreshes."""

    #: The ``INSTALLED_APPS`` label that brings the theme (None: the stock admin).
    app: str | None = None
    #: The template of a row refresh: the results table as the theme renders it.
    rows_template: str = "live_admin/rows.html"
    #: The changelist's form: swapped whole on a refresh.
    form: str = "#changelist-form"
    #: A result row of the changelist (each theme's results table keeps ``#result_list``).
    row: str = "#result_list tbody tr"
    #: The parts outside the form that a refresh replaces too: filters, search bar, counts and
    #: pagination. Each is swapped where the page and the fresh one have the same number of them,
    #: and never while the user is typing in it.
    regions: tuple[str, ...] = ("#changelist-filter", "#toolbar")
    #: The action bar, and its "Select all N" link.
    actions: str = ".actions"
    question: str = ".actions .question a"
    #: The element the theme's actions.js is started on (``Actions(boxes, {parent})``), if any.
    actions_parent: str | None = None
    #: The change form.
    change_form: str = "#content-main form"
    #: Where a field's row is, by field name (``{name}`` is replaced).
    field_row: tuple[str, ...] = (".field-{name}", "#{name}-group")
    #: A read-only field's shown value, refreshed in place.
    readonly: str = ".readonly"
    #: The theme puts parts of the list (pagination, counts) in the page's footer block: it is
    #: rendered for a refresh too, in a region of its own (``#live-admin-footer``).
    footer: bool = False
    #: The theme loads htmx 2 itself; a second copy is not loaded.
    own_htmx: bool = False
    #: Bars the theme fixes (or makes sticky) at the bottom of the window: the status indicator
    #: sits above them.
    bottom_bar: str | None = None
    #: The stacking level (z-index) of live_admin's floating parts, the held-updates button and
    #: the status: above the theme's fixed header, below its sheets and dialogs (None: the
    #: stylesheet's 1040, above Bootstrap's fixed headers and below its modals).
    layer: int | None = None
    #: What the theme's own script did once to the form and must do again after a swap:
    #: ``"select2"`` (the action select is a select2 box).
    restyle: tuple[str, ...] = ()
    #: The links to models' changelists that show change badges (index, app index, sidebar), and
    #: the element inside such a link the badge goes in (None: the link itself).
    badge_links: str = "tr[class^='model-'] th a"
    badge_in: str | None = None

    @cached_property
    def as_json(self) -> str:
        """The selectors as the page reads them (once a theme: every live page carries them)."""
        data: dict[str, Any] = asdict(self)
        for server_side in ("app", "footer", "own_htmx", "rows_template"):
            data.pop(server_side)
        return json.dumps(
            {_camel(key): value for key, value in data.items()}, separators=(",", ":")
        )


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


STOCK = Theme()

#: The themes live_admin knows, by name. The one in use is the first in ``INSTALLED_APPS``.
THEMES: dict[str, Theme] = {
    "jazzmin": replace(
        STOCK,
        app="jazzmin",
        # Search, filters (select2 boxes of its own) and the count share one form above the
        # list, beside the object tools: only the count is refreshed there.
        regions=("#changelist-search > .quiet", "#change-list-date-hierarchy"),
        # select2 styles the action select, once: it is styled again after a swap.
        restyle=("select2",),
        badge_links="#jazzy-sidebar a.nav-link, .app-content td > a:not(.btn)",
        badge_in="p",
    ),
    "grappelli": replace(
        STOCK,
        app="grappelli",
        form="#grp-changelist-form",
        row="#result_list tbody tr.grp-row",
        # Not its filters: its script binds their pulldown once, to the elements it found.
        regions=("#search", ".c-2 .grp-pagination", "#date-hierarchy"),
        actions=".grp-changelist-actions",
        question=".grp-changelist-actions .grp-question a",
        change_form="#grp-content-container form",
        field_row=(".form-row.{name}", "#{name}-group"),
        readonly=".grp-readonly",
        bottom_bar=".grp-fixed-footer",
        badge_links=".grp-row > a",
        badge_in="strong",
    ),
    "unfold": replace(
        STOCK,
        app="unfold",
        # Each row has a <tbody> of its own; a form's errors get a row of their own.
        row="#result_list tr.data-row",
        regions=("#live-admin-footer",),
        rows_template="live_admin/themes/unfold_rows.html",  # its own results tag
        actions_parent=".result-list-wrapper",
        footer=True,
        own_htmx=True,
        layer=45,  # its header is at 40, its dropdowns at 50, its sheets and dialogs at 60+
        # The form's buttons; the list's pagination and Save, and its action bar above them.
        bottom_bar="#submit-row, #live-admin-footer > div, div:has(> #changelist-actions-wrapper)",
        badge_links="li[class*='model-'] > a, tr[class*='model-'] th a",
    ),
    "stock": STOCK,
}


@cache
def active() -> tuple[str, Theme]:
    """The theme of this project's admin: the first of ``THEMES`` in ``INSTALLED_APPS`` (the
    one whose templates the admin renders), else the stock admin."""
    by_app = {theme.app: (name, theme) for name, theme in THEMES.items() if theme.app}
    for config in apps.get_app_configs():  # in INSTALLED_APPS order
        if config.name in by_app:
            return by_app[config.name]
    return "stock", STOCK


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting == "INSTALLED_APPS":
        active.cache_clear()
