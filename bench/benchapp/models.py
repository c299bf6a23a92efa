"""Three models of one shape: unobserved, observed by live_admin, observed by DCRF."""

from django.db import models


class Plain(models.Model):
    name = models.CharField(max_length=100)
    n = models.IntegerField(default=0)

    def __str__(self) -> str:
        return self.name


class Item(models.Model):
    name = models.CharField(max_length=100)
    n = models.IntegerField(default=0)

    def __str__(self) -> str:
        return self.name


class DcrfItem(models.Model):
    name = models.CharField(max_length=100)
    n = models.IntegerField(default=0)

    def __str__(self) -> str:
        return self.name
