"""Installing database capture's triggers where they belong, and only there.

After ``migrate`` (``post_migrate``, once per app) each observed model of the app gets its
triggers on a PostgreSQL database when ``CAPTURE`` is ``"database"``, installed or replaced when
out of date (django-pgtrigger compares their hash). With capture back on ``"signals"`` every
live_admin trigger on the app's tables is dropped; a live model's triggers of other names (a
renamed model's) too. Running it again changes nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from django.apps import AppConfig
from django.db import connections, router
from django.db.models import Model

from ..observers import specs
from . import in_database
from .triggers import drop, installed, triggers

logger = logging.getLogger("live_admin")


def wanted(models: list[type[Model]], using: str) -> dict[type[Model], list[Any]]:
    """The triggers each of ``models`` should have on ``using`` (none unless capture is in the
    database there, and the database's router lets the model in)."""
    if not in_database(using):
        return {}
    observed = specs()
    return {
        model: triggers(model, observed[model])
        for model in models
        if model in observed
        and model._meta.managed
        and not model._meta.proxy
        and router.allow_migrate_model(using, model)
    }


def status(model: type[Model], made: list[Any], using: str) -> str:
    """``"INSTALLED"`` when every trigger is there and current, else the first other status."""
    for trigger in made:
        found = trigger.get_installation_status(model, database=using)[0]
        if found != "INSTALLED":
            return str(found)
    return "INSTALLED"


def not_installed(using: str) -> list[tuple[type[Model], str]]:
    """The observed models of database ``using`` whose triggers are missing or out of date."""
    from django.apps import apps

    if connections[using].vendor != "postgresql":
        return []
    found = ((m, status(m, made, using)) for m, made in wanted(apps.get_models(), using).items())
    return [(model, state) for model, state in found if state != "INSTALLED"]


def sync(using: str, models: list[type[Model]]) -> None:
    """Install and update the triggers of ``models`` on database ``using``; drop a live
    model's triggers of another name (a renamed model's), and with capture back on signals
    every live_admin trigger. A model not observed in this process keeps its triggers: a
    ``migrate`` that runs without the project's admins loaded removes nothing."""
    if connections[using].vendor != "postgresql":
        return
    want = wanted(models, using)
    tables = {m._meta.db_table for m in want} if in_database(using) else None
    for table, names in installed(_tables(models), using).items():
        keep = {
            t.get_pgid(m) for m, made in want.items() if m._meta.db_table == table for t in made
        }
        if names - keep and (tables is None or table in tables):
            drop(table, names - keep, using)
    for model, made in want.items():
        if status(model, made, using) == "INSTALLED":
            continue
        try:
            for trigger in made:
                trigger.install(model, database=using)
        except Exception as exc:  # the check says they are missing; migrate goes on
            logger.warning("live_admin: installing the triggers of %s failed: %s", model, exc)


def remove(using: str, models: list[type[Model]]) -> None:
    """Drop every live_admin trigger of ``models`` on ``using``, whatever the settings say."""
    for table, names in installed(_tables(models), using).items():
        drop(table, names, using)


def report(using: str, models: list[type[Model]]) -> list[tuple[type[Model], str]]:
    """Each model with live_admin triggers, or that should have them: ``INSTALLED``,
    ``OUTDATED``, ``UNINSTALLED``, or ``UNWANTED`` (there, though capture is not in the
    database or the model is not live)."""
    want = wanted(models, using)
    present = installed(_tables(models), using)
    rows = [(model, status(model, made, using)) for model, made in want.items()]
    rows += [
        (model, "UNWANTED")
        for model in models
        if model not in want and model._meta.db_table in present and not model._meta.proxy
    ]
    return sorted(rows, key=lambda row: row[0]._meta.label)


def _tables(models: list[type[Model]]) -> list[str]:
    return [m._meta.db_table for m in models if not m._meta.proxy and m._meta.managed]


def after_migrate(app_config: AppConfig, using: str, **kwargs: Any) -> None:
    """A ``post_migrate`` receiver: :func:`sync` the app's models."""
    try:
        sync(using, list(app_config.get_models()))
    except ImportError as exc:  # django-pgtrigger missing: the checks say so
        logger.warning("live_admin: database capture needs django-pgtrigger: %s", exc)
    except Exception as exc:  # migrate goes on; the listener's log and W012 say what is missing
        logger.warning("live_admin: the triggers of %s: %s", app_config.label, exc)
