from django.conf import settings
from django.db import models


class Project(models.Model):
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name


class Ticket(models.Model):
    STATUSES = [("open", "Open"), ("doing", "In progress"), ("done", "Done")]

    project = models.ForeignKey(Project, on_delete=models.CASCADE)
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=STATUSES, default="open")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    def __str__(self) -> str:
        return self.title
