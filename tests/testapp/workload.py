"""A seeded random workload over the test models: what the convergence test throws at pages."""

from __future__ import annotations

import random

from django.contrib.auth.models import User
from django.test import Client

import live_admin

from .models import Order, Project, Ticket

STATUSES = ("open", "doing", "closed")


def run(seed: int, steps: int, keep: set[int] | None = None) -> list[str]:
    """Run ``steps`` random changes; tickets in ``keep`` are changed but never deleted."""
    rng = random.Random(seed)
    keep = keep or set()
    admin = Client()
    admin.force_login(User.objects.filter(is_superuser=True).first())
    done = []
    for _ in range(steps):
        projects = list(Project.objects.all())
        tickets = list(Ticket.objects.order_by("pk"))
        roll = rng.random()
        if roll < 0.2 or not tickets:
            Ticket.objects.create(
                project=rng.choice(projects),
                title=f"T{rng.randint(100, 999)}",
                status=rng.choice(STATUSES),
            )
            done.append("create")
            continue
        ticket = rng.choice(tickets)
        if roll < 0.4:
            ticket.title = f"T{rng.randint(100, 999)}"
            ticket.save()
            done.append("rename")
        elif roll < 0.55:
            ticket.status = rng.choice(STATUSES)
            ticket.save()
            done.append("status")
        elif roll < 0.7:
            ticket.project = rng.choice(projects)  # a group move
            ticket.save()
            done.append("move")
        elif roll < 0.8 and ticket.pk not in keep:
            ticket.delete()
            done.append("delete")
        elif roll < 0.9:
            project = rng.choice(projects)
            Ticket.objects.filter(project=project).update(status=rng.choice(STATUSES))
            live_admin.notify(Ticket)  # bulk update: no signals
            done.append("bulk")
        else:
            orders = list(Order.objects.values_list("pk", flat=True))
            chosen = rng.sample(orders, min(2, len(orders)))
            response = admin.post(
                "/admin/testapp/order/", {"action": "mark_shipped", "_selected_action": chosen}
            )
            assert response.status_code == 302, response.status_code
            Order.objects.filter(pk__in=rng.sample(orders, 1)).update(status="new")
            live_admin.notify(Order)
            done.append("action")
    return done
