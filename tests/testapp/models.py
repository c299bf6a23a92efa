import uuid

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models.functions import Lower
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
    watchers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")

    def __str__(self) -> str:
        return self.title


class Order(models.Model):
    customer = models.CharField(max_length=100)
    status = models.CharField(max_length=20, default="new")
    priority = models.IntegerField(default=0)


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


class Widget(models.Model):
    """Its admin is a plain ModelAdmin, made live by LIVE_ADMIN["MODELS"] alone."""

    name = models.CharField(max_length=100)
    stock = models.IntegerField(default=0)
    counted_at = models.DateTimeField(null=True, blank=True)  # excluded by the setting


class UrgentTicket(Ticket):
    class Meta:
        proxy = True


class Attachment(models.Model):
    """Shown through a generic inline, which live_admin does not follow."""

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.PositiveIntegerField()
    target = GenericForeignKey("content_type", "object_id")
    name = models.CharField(max_length=100)


class Blob(models.Model):
    """Field kinds that trip change detection: bytes, files, JSON, a multi-column relation."""

    data = models.BinaryField(default=b"")
    upload = models.FileField(blank=True)
    meta = models.JSONField(default=dict)
    order_number = models.IntegerField(null=True)
    order_customer = models.CharField(max_length=100, blank=True)
    order = models.ForeignObject(
        Order,
        on_delete=models.DO_NOTHING,
        from_fields=["order_number", "order_customer"],
        to_fields=["id", "customer"],
        null=True,
        related_name="+",
    )


class Category(models.Model):
    """A tree: rows that point at rows of their own model."""

    name = models.CharField(max_length=100)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE)
    lowered = models.GeneratedField(
        expression=Lower("name"), output_field=models.CharField(max_length=100), db_persist=True
    )


class Programme(Project):
    """Multi-table inheritance: a Project with a table of its own."""

    budget = models.IntegerField(default=0)
