"""Values as a conflict shows them, and the comparison of values that the merge relies on."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django import forms
from django.core.files.base import ContentFile
from django.test import RequestFactory

from live_admin.conflicts import token as conflicts
from live_admin.conflicts.display import shown
from testapp.models import Order, Project, Tag

pytestmark = pytest.mark.django_db


def test_values_as_the_form_labels_them() -> None:
    apollo, gemini = Project.objects.create(name="Apollo"), Project.objects.create(name="Gemini")
    one = forms.ModelChoiceField(Project.objects.all())
    many = forms.ModelMultipleChoiceField(Project.objects.all())
    choice = forms.ChoiceField(choices=[("Space", [("a", "Apollo")]), ("g", "Gemini")])
    multiple = forms.MultipleChoiceField(choices=[("a", "Apollo"), ("g", "Gemini")])
    assert shown(one, apollo.pk) == "Apollo"
    assert shown(one, gemini) == "Gemini"
    assert shown(one, 999) == "999"  # gone meanwhile: its key
    assert shown(many, [apollo, gemini]) == "Apollo, Gemini"
    assert shown(choice, "a") == "Apollo"  # grouped choices
    assert shown(multiple, ["g", "a"]) == "Gemini, Apollo"
    assert shown(forms.BooleanField(), True) == "Yes"
    assert shown(forms.BooleanField(), False) == "No"
    assert shown(forms.CharField(), None) == "(empty)"
    assert shown(forms.CharField(), "x" * 500).endswith("…")
    assert shown(forms.FileField(), ContentFile(b"", name="a.txt")) == "a.txt"
    assert shown(forms.DecimalField(), Decimal("1.50")) == "1.50"


def test_values_a_form_never_shows_are_not_shown() -> None:
    assert shown(forms.CharField(widget=forms.PasswordInput), "secret") == "(not shown)"
    assert shown(forms.CharField(widget=forms.HiddenInput), "secret") == "(not shown)"


@pytest.mark.parametrize(
    ("left", "right", "same"),
    [
        (Decimal("1.50"), Decimal("1.5"), True),
        (Decimal("1.5"), Decimal("1.6"), False),
        (True, "True", True),
        ({"b": 1, "a": 2}, {"a": 2, "b": 1}, True),
        (["b", "a"], ("a", "b"), True),  # a set of choices
        (None, "", True),
    ],
)
def test_comparison_of_plain_values(left: Any, right: Any, same: bool) -> None:
    field = forms.Field()
    assert (conflicts.canonical(field, left) == conflicts.canonical(field, right)) is same


def test_a_model_instance_compares_by_its_pk() -> None:
    tag = Tag.objects.create(name="t")
    field = forms.Field()
    assert conflicts.canonical(field, tag) == conflicts.canonical(field, Tag(pk=tag.pk))


def test_only_the_models_own_fields_are_checked() -> None:
    class Plain(forms.Form):
        name = forms.CharField()

    class WithExtra(forms.ModelForm):
        note = forms.CharField()  # not a model field: never saved, never merged

        class Meta:
            model = Order
            fields = ["customer", "status"]

    assert conflicts.editable_names(Plain()) == []
    assert conflicts.editable_names(WithExtra()) == ["customer", "status"]


def test_posted_list_rows_with_bad_keys_are_left_out() -> None:
    request = RequestFactory().post("/", {"form-0-id": "3", "form-1-id": "x", "form-2-id": "4"})
    assert sorted(conflicts.posted_pks(request, Order._meta.pk)) == [3, 4]
