"""Install live_admin into Django's own test suite, as a project using it would have it.

``install()`` runs before ``tests/runtests.py``. runtests.py builds ``INSTALLED_APPS`` itself
(its ``ALWAYS_INSTALLED_APPS`` plus the test apps) and then calls ``django.setup()``: the wrapped
``django.setup`` adds ``live_admin`` and this module's app first. ``TransactionTestCase`` classes
that restrict ``available_apps`` keep both apps available.

When apps are ready, ``CompatConfig.ready`` applies ``LIVE_ADMIN_COMPAT``:

- ``server``: every ``ModelAdmin`` subclass gets ``LiveAdminMixin`` as its first base: those
  that exist already (and admins a test app's models.py registered with them are re-created),
  and, through ``ModelAdmin.__init_subclass__``, every one defined later. A class that inherits
  the mixin from a base is left alone, so the mixin is in each MRO once. ``ModelAdmin`` itself
  and inlines are not touched.
- ``models``: every model of the test apps (the apps under Django's ``tests/`` directory) is
  registered on a private ``AdminSite(name="live_admin_compat")`` with a live ModelAdmin (but
  those with a composite primary key, which the admin cannot show).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import sys
import traceback
import unittest
from typing import Any

from django.apps import AppConfig

#: Added to INSTALLED_APPS (entries) and kept in every ``available_apps`` (app names).
APPS = ["channels", "live_admin", "compat.inject.CompatConfig"]
NAMES = ["channels", "live_admin", "compat"]

#: The private site of the "models" mode (``all_sites`` holds sites weakly: keep a reference).
site: Any = None


def install() -> None:
    import django

    # The real django-model-utils (live_admin imports it), imported before Django's tests/ dir,
    # which has an app called model_utils, goes first on sys.path.
    import model_utils  # noqa: F401
    from django.apps.registry import Apps
    from django.conf import settings

    setup = django.setup
    set_available_apps = Apps.set_available_apps

    def setup_with_live_admin(*args: Any, **kwargs: Any) -> None:
        installed = list(settings.INSTALLED_APPS)
        settings.INSTALLED_APPS = installed + [app for app in APPS if app not in installed]
        # Channels set up as the README says (checks W004, W005): one process, in memory.
        settings.ASGI_APPLICATION = "compat.asgi.application"  # never imported by the tests
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
        setup(*args, **kwargs)

    def set_available_apps_with_live_admin(self: Apps, available: Any) -> None:
        set_available_apps(self, [*available, *NAMES])

    django.setup = setup_with_live_admin
    Apps.set_available_apps = set_available_apps_with_live_admin  # type: ignore[method-assign]


class CompatConfig(AppConfig):
    name = "compat"
    label = "live_admin_compat"

    def ready(self) -> None:
        mode = os.environ["LIVE_ADMIN_COMPAT"]
        live = {"server": make_admins_live, "selenium": make_admins_live}
        live.get(mode, observe_test_models)()
        logger = logging.getLogger("live_admin")
        if not any(isinstance(h, LoggedErrors) for h in logger.handlers):
            logger.addHandler(LoggedErrors(os.environ["COMPAT_RESULTS"] + ".logged"))
            logger.setLevel(logging.DEBUG)


class LoggedErrors(logging.Handler):
    """Writes what live_admin logs with a traceback or at WARNING and up, with the test running
    then, one JSON line each (its receivers log errors instead of failing the save, and repeats
    at DEBUG); ``compat.runner`` fails those tests."""

    def __init__(self, path: str) -> None:
        super().__init__(logging.DEBUG)
        self.path = path

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < logging.WARNING and not record.exc_info:
            return
        test = "(outside any test)"
        frame = sys._getframe()
        while frame:
            this = frame.f_locals.get("self", frame.f_locals.get("cls"))
            if isinstance(this, unittest.TestCase):
                test = this.id()
                break
            if isinstance(this, type) and issubclass(this, unittest.TestCase):
                test = f"setUpClass ({this.__module__}.{this.__qualname__})"
                break
            frame = frame.f_back
        error = f"logged: {record.getMessage()}"
        if record.exc_info:  # the exception first: summaries group by the first line
            exc = record.exc_info[:2]
            error = "".join(traceback.format_exception_only(*exc)).strip() + f"\n({error})"
        text = "".join(traceback.format_exception(*record.exc_info)) if record.exc_info else ""
        line = {"test": test, "error": error, "traceback": text[-6000:]}
        with open(self.path, "a") as f:
            f.write(json.dumps(line) + "\n")


#: The classes ``make_admins_live`` changed (reported on exit, as a sanity check).
made_live: list[type] = []


def make_admins_live() -> None:
    """Runs twice: runtests.py sets up Django, then re-installs the apps with the test apps."""
    from django.contrib.admin import ModelAdmin
    from django.contrib.admin.sites import all_sites

    from live_admin.admin import LiveAdminMixin

    def make_live(cls: type) -> None:
        if not issubclass(cls, LiveAdminMixin):
            cls.__bases__ = (LiveAdminMixin, *cls.__bases__)
            made_live.append(cls)

    def init_subclass(cls: type, **kwargs: Any) -> None:
        super(ModelAdmin, cls).__init_subclass__(**kwargs)
        make_live(cls)

    if "__init_subclass__" not in vars(ModelAdmin):
        ModelAdmin.__init_subclass__ = classmethod(init_subclass)  # type: ignore[assignment]
        report = "live_admin_compat: LiveAdminMixin injected into {} ModelAdmin subclasses"
        atexit.register(lambda: print(report.format(len(made_live)), file=sys.stderr))
    registered = [
        (s, model, admin)
        for s in all_sites
        for model, admin in s._registry.items()
        if not isinstance(admin, LiveAdminMixin)
    ]
    for cls in ModelAdmin.__subclasses__():  # in creation order: bases before their subclasses
        make_live(cls)
    for s, model, admin in registered:
        if isinstance(admin, LiveAdminMixin):
            # Registered before its class became live (by a test app's models.py): the mixin's
            # __init__ never ran for it.
            s._registry[model] = type(admin)(model, s)


def observe_test_models() -> None:
    from django.apps import apps
    from django.contrib.admin import AdminSite, ModelAdmin

    from live_admin.admin import LiveAdminMixin

    global site
    site = AdminSite(name="live_admin_compat")
    tests_dir = os.environ["RUNTESTS_DIR"]
    skipped = []
    for config in apps.get_app_configs():
        if not config.path.startswith(tests_dir + os.sep):
            continue
        for model in config.get_models():
            if model._meta.is_composite_pk:  # the admin refuses them
                skipped.append(model._meta.label)
                continue
            admin = type(f"{model.__name__}LiveAdmin", (LiveAdminMixin, ModelAdmin), {})
            site.register(model, admin)
    if site._registry:  # (none on the first call: the test apps are not installed yet)
        print(
            f"live_admin_compat: {len(site._registry)} models observed (not those with a "
            f"composite primary key: {', '.join(skipped) or 'none'})",
            file=sys.stderr,
        )
