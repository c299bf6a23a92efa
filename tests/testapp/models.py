import uuid

from django.conf import settings
from django.db import models
from model_utils import FieldTracker


class Project(models.Model):
    name = models.CharField(max_length=100)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    name = models.CharField(max_length=50)


class Ticket(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE)
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=20, default="open")
    notes = models.TextField(blank=True)
    tags = models.ManyToManyField(Tag, blank=True)

    def __str__(self) -> str:
        return self.title


class Order(models.Model):
    customer = models.CharField(max_length=100)
    status = models.CharField(max_length=20, default="new")


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.CharField(max_length=100)
    quantity = models.PositiveIntegerField(default=1)


class Document(models.Model):
    """Odd primary keys: UUIDs; a unicode, hashable group field."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    title = models.CharField(max_length=300)
    shelf = models.CharField(max_length=300, blank=True)


class Note(models.Model):
    """A model that declares its own FieldTracker."""

    text = models.CharField(max_length=100)
    pinned = models.BooleanField(default=False)
    tracker = FieldTracker()


class PartlyTracked(models.Model):
    """Its own tracker leaves a field out, so live_admin attaches one of its own."""

    a = models.CharField(max_length=10)
    b = models.CharField(max_length=10)
    tracker = FieldTracker(fields=["a"])


class Secret(models.Model):
    """Registered without the mixin."""

    code = models.CharField(max_length=10)


class UrgentTicket(Ticket):
    class Meta:
        proxy = True
