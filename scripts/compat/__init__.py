"""Helpers that ``scripts/django-compat`` runs inside Django's own test suite.

``run`` starts ``tests/runtests.py``, ``inject`` installs live_admin into it, ``runner`` records
every test's outcome, ``settings`` is ``test_sqlite`` with that runner. Nothing here is part of
the package.
"""
