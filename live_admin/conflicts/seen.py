"""What a page showed: the token that actions and deletes are checked against.

A live changelist with actions posts ``_live_seen``: a signed token with, for each row it shows,
a keyed 4-byte hash of each tracked field's value (the model's concrete fields, less
``live_exclude`` and, when set, only ``live_fields``), the text of the list's own columns for
those fields, when it was made, and how many rows the list matched. A row refresh adds a part for
its rows; later parts are newer states of the rows they hold. The hashes are keyed with the
project's ``SECRET_KEY``, so a token tells nothing of a value the page did not show.

A delete page carries one for its object, and an action's own intermediate page (delete_selected's
confirmation, say) carries the list's on to its second POST (:func:`inject`).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core import signing
from django.core.files.base import File
from django.db.models import Model
from django.http import HttpRequest, HttpResponseBase
from django.template.response import TemplateResponse
from django.utils.html import escape

from .. import options
from .display import field_text
from .token import MAX_PARTS, value_text

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

logger = logging.getLogger("live_admin")

#: The form field that carries the token.
SEEN_FIELD = "_live_seen"
#: Bytes of each field's hash: a change goes unseen once in four billion.
DIGEST = 4
_UNKNOWN = b"\0" * DIGEST  # a field the page did not load: not compared
_SALT = "live_admin.seen:"


@dataclass
class Seen:
    """A posted token, read: per row (pk as text) its hashes, column texts and time."""

    digests: dict[str, bytes] = field(default_factory=dict)
    texts: dict[str, dict[str, str]] = field(default_factory=dict)
    times: dict[str, float] = field(default_factory=dict)
    #: How many rows the list matched, and when it was counted (its first part's).
    count: int | None = None
    since: float | None = None
    #: Rows a confirmation page showed as no longer in the list (running anyway skips them).
    out: set[str] = field(default_factory=set)


def tracked(admin: ModelAdmin[Any]) -> list[Any]:
    """The fields whose change makes a row changed for an action: concrete, not the pk, not
    ``live_exclude``'s, and ``live_fields``' only when that is set."""
    quiet = options.excluded(admin)
    wanted = options.fields(admin)
    return [
        f
        for f in admin.model._meta.concrete_fields
        if not f.primary_key and f.name not in quiet and (wanted is None or f.name in wanted)
    ]


def key() -> bytes:
    """The key of the hashes: the project's own."""
    return hashlib.sha256(f"live_admin.seen{settings.SECRET_KEY}".encode()).digest()


def _version(fields: list[Any]) -> str:
    """Names the tracked fields: a token made for others is not compared field by field."""
    names = ",".join(f.attname for f in fields)
    return hashlib.blake2b(names.encode(), digest_size=4).hexdigest()


def digests(obj: Model, fields: list[Any], secret: bytes) -> bytes:
    """The hashes of ``obj``'s loaded values of ``fields`` (no query: a deferred field is not
    read, and is not compared)."""
    out = bytearray()
    for f in fields:
        if f.attname not in obj.__dict__:
            out += _UNKNOWN
            continue
        value = obj.__dict__[f.attname]
        if isinstance(value, (bytes, bytearray, memoryview)):
            data = hashlib.sha256(bytes(value)).digest()
        else:  # a file by its name, read or not
            text = value_text(getattr(value, "name", value) if isinstance(value, File) else value)
            data = text.encode("utf-8", "surrogatepass")
        out += hashlib.blake2b(data, digest_size=DIGEST, key=secret).digest()
    return bytes(out)


def changed(fields: list[Any], before: bytes, after: bytes) -> list[Any]:
    """The fields whose hashes differ (those unknown to either side are not counted)."""
    found = []
    for i, f in enumerate(fields):
        was, now = before[i * DIGEST : (i + 1) * DIGEST], after[i * DIGEST : (i + 1) * DIGEST]
        if _UNKNOWN not in (was, now) and was != now:
            found.append(f)
    return found


def texts(obj: Model, fields: list[Any], shown: Iterable[str]) -> dict[str, str]:
    """The texts of ``obj``'s fields that the page shows (``shown``: their names), those it
    has loaded only: a related object not fetched yet is not fetched for this."""
    names = set(shown)
    return {
        f.name: field_text(obj, f)
        for f in fields
        if f.name in names and f.attname in obj.__dict__ and (not f.is_relation or f.is_cached(obj))
    }


def sign(
    admin: ModelAdmin[Any],
    rows: dict[str, tuple[bytes, dict[str, str]]],
    *,
    count: int | None,
    at: float | None = None,
    out: Iterable[str] = (),
) -> str:
    """The token of ``rows`` (pk text → hashes, column texts), made at ``at`` (now); ``out``:
    rows it shows as no longer in the list."""
    payload = {
        "o": sorted(out),
        "v": _version(tracked(admin)),
        "t": time.time() if at is None else at,
        "n": count,
        "r": {pk: base64.b64encode(d).decode() for pk, (d, _) in rows.items()},
        "d": {pk: t for pk, (_, t) in rows.items() if t},
    }
    salt = _SALT + admin.model._meta.label_lower
    return signing.Signer(salt=salt).sign_object(payload, compress=True)


def token(
    admin: ModelAdmin[Any],
    objs: Iterable[Model],
    *,
    shown: Iterable[str],
    count: int | None,
    at: float | None = None,
) -> str:
    """The token of a page showing ``objs``, with the texts of the fields named in ``shown``."""
    fields, secret, names = tracked(admin), key(), list(shown)
    rows = {str(obj.pk): (digests(obj, fields, secret), texts(obj, fields, names)) for obj in objs}
    return sign(admin, rows, count=count, at=at)


def read(request: HttpRequest, admin: ModelAdmin[Any]) -> Seen | None:
    """The posted token, checked; None (and a log line) when it is missing or not valid: then
    nothing is checked, as on a stock admin."""
    value = request.POST.get(SEEN_FIELD)
    if value is None:
        logger.info("live_admin: %s posted without a seen token; run unchecked", request.path)
        return None
    fields = tracked(admin)
    salt = _SALT + admin.model._meta.label_lower
    seen = Seen()
    try:
        parts = value.split()
        if not 0 < len(parts) <= MAX_PARTS:
            raise signing.BadSignature(f"{len(parts)} parts")
        for part in parts:
            one = signing.Signer(salt=salt).unsign_object(part)
            if one.get("v") != _version(fields):
                raise signing.BadSignature("made for other fields")
            at = float(one["t"])
            if seen.since is None:
                count = one.get("n")
                seen.since, seen.count = at, count if isinstance(count, int) else None
            seen.out.update(str(pk) for pk in one.get("o", ()))
            for pk, encoded in one["r"].items():
                found = base64.b64decode(encoded, validate=True)
                if len(found) != DIGEST * len(fields):
                    raise ValueError("hashes of another length")
                seen.digests[str(pk)], seen.times[str(pk)] = found, at
                seen.texts[str(pk)] = {str(k): str(v) for k, v in one["d"].get(pk, {}).items()}
    except (signing.BadSignature, ValueError, TypeError, KeyError, AttributeError) as exc:
        logger.warning(
            "live_admin: %s posted a bad token of what it showed (%s); run unchecked",
            request.path,
            exc,
        )
        return None
    return seen


_ANCHOR = re.compile(rb"<input\b[^>]*\bname=\"(?:post|_selected_action)\"[^>]*>", re.IGNORECASE)


def inject(response: HttpResponseBase, value: str) -> None:
    """Put ``value`` as ``_live_seen`` into the confirming form of a page (a delete page, an
    action's intermediate page): after its first ``post`` or ``_selected_action`` input. A page
    without one is left as it is, and its POST is not checked."""
    field = f'<input type="hidden" name="{SEEN_FIELD}" value="{escape(value)}">'.encode()

    def put(page: HttpResponseBase) -> None:
        content = getattr(page, "content", None)
        if content is None or page.get("Content-Type", "").split(";")[0] != "text/html":
            return
        found = _ANCHOR.search(content)
        if found is not None:
            page.content = content[: found.end()] + field + content[found.end() :]  # type: ignore[attr-defined]

    if isinstance(response, TemplateResponse) and not response.is_rendered:
        response.add_post_render_callback(put)
    elif response.status_code == 200 and not response.streaming:
        put(response)
