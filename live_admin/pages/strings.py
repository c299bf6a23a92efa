"""What live pages say, translated on the server and handed to the page scripts as data."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from django.utils.translation import gettext_lazy as _
from django.utils.translation import override

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
    "tooManyTabs": _("Paused: too many tabs open. Live updates resume when one closes."),
    "delayed": _("Live updates delayed: the server can't reach its channel layer."),
    "refused": _("The server refuses live updates (its websocket route is missing)."),
    "installDocs": _("Installation"),
    "checkFailed": _("Couldn't check for changes, retrying…"),
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
    "deleted": _("This object was deleted. Saving and deleting are disabled."),
    "isEditing": _("%(name)s is editing"),
    "isViewing": _("%(name)s is viewing"),
    "isEditingField": _("%(name)s is editing %(field)s"),
    "empty": _("(empty)"),
    "yes": _("Yes"),
    "no": _("No"),
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
