"""Background activity for the demo: rows change, appear and disappear every second or two."""

from __future__ import annotations

import random
import threading
import time

from django.db import close_old_connections

WORDS = (
    "login",
    "export",
    "invoice",
    "search",
    "layout",
    "cache",
    "email",
    "report",
    "upload",
    "billing",
)


def step(rng: random.Random) -> str:
    from .models import Project, Ticket

    roll = rng.random()
    if roll < 0.55:
        ticket = Ticket.objects.order_by("?").first()
        if ticket:
            ticket.status = rng.choice([s for s, _ in Ticket.STATUSES if s != ticket.status])
            ticket.save()
            return f"{ticket} -> {ticket.status}"
    if roll < 0.8:
        project = Project.objects.order_by("?").first()
        ticket = Ticket.objects.create(
            project=project, title=f"Fix {rng.choice(WORDS)} #{rng.randint(100, 999)}"
        )
        return f"added {ticket}"
    ticket = Ticket.objects.order_by("?").first()
    if ticket:
        ticket.delete()
        return f"deleted {ticket}"
    return "idle"


def run_forever(seed: int | None = None) -> threading.Thread:
    rng = random.Random(seed)

    def loop() -> None:
        while True:
            time.sleep(rng.uniform(1.0, 2.0))
            try:
                step(rng)
            finally:
                close_old_connections()

    thread = threading.Thread(target=loop, name="demo-simulator", daemon=True)
    thread.start()
    return thread
