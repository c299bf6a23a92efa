"""The documented way for projects to test their own broadcasts."""

from __future__ import annotations

from typing import Any

import pytest

from live_admin.testing import capture_broadcasts
from testapp.models import Project

pytestmark = pytest.mark.django_db  # a test wrapped in a transaction, as most users' tests are


def test_capture_in_a_transactional_test(django_capture_on_commit_callbacks: Any) -> None:
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        project = Project.objects.create(name="P")
        assert sent == []  # nothing before commit
    assert any(m["model"] == "testapp.project" and m.get("pk") == str(project.pk) for m in sent)


def test_capture_stops_at_the_end_of_the_block(django_capture_on_commit_callbacks: Any) -> None:
    with capture_broadcasts() as sent:
        pass
    with django_capture_on_commit_callbacks(execute=True):
        Project.objects.create(name="P")
    assert sent == []


def test_nested_captures_are_told_apart(django_capture_on_commit_callbacks: Any) -> None:
    with capture_broadcasts() as outer:
        with capture_broadcasts() as inner:
            pass  # both empty, so equal
        with django_capture_on_commit_callbacks(execute=True):
            Project.objects.create(name="P")
    assert inner == []
    assert outer
