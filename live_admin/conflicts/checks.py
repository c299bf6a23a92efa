"""The system check of checked actions: a valid ``ACTION_CHECKS`` and ``live_action_checks``."""

from __future__ import annotations

from typing import Any

from django.contrib.admin.sites import all_sites
from django.core.checks import CheckMessage, Error

from .. import registry
from ..checks import option_source, register
from ..conf import ACTION_MODES, get_config

_MODES = ", ".join(repr(m) for m in ACTION_MODES)
_HINT = (
    "'confirm' asks before running an action on rows changed since the page showed them, "
    "'refuse' does not run it, 'off' checks nothing."
)


@register()
def check_action_modes(**kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    mode = get_config()["ACTION_CHECKS"]
    if isinstance(mode, str) and mode not in ACTION_MODES:  # not a str: E003 says so
        messages.append(
            Error(
                f"LIVE_ADMIN['ACTION_CHECKS'] is {mode!r}; it must be one of {_MODES}. Until "
                "fixed, actions ask before running on changed rows.",
                hint=_HINT,
                id="live_admin.E021",
            )
        )
    for site in list(all_sites):
        for admin in site._registry.values():
            mode = getattr(admin, "live_action_checks", None)
            if registry.is_live(admin) and mode is not None and mode not in ACTION_MODES:
                messages.append(
                    Error(
                        f"{option_source(admin, 'live_action_checks')} is {mode!r}; it must be "
                        f"one of {_MODES}, or None. Until fixed, actions ask before running on "
                        "changed rows.",
                        hint=_HINT,
                        obj=admin,
                        id="live_admin.E021",
                    )
                )
    return messages
