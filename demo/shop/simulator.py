"""Background activity for the demo: rows change, appear and disappear every second or two."""

from __future__ import annotations

import random
import threading
import time
from decimal import Decimal

from django.db import close_old_connections, transaction

WORDS = ("login", "export", "invoice", "search", "layout", "cache", "email", "report", "upload")
PRODUCTS = ("Tea", "Coffee", "Scones", "Jam", "Honey", "Bread")


def _pick(model):
    return model.objects.order_by("?").first()


def step(rng: random.Random) -> str:
    """One change, picked at random; returns what it did."""
    from .models import Customer, Order, OrderLine, Project, Ticket

    roll = rng.random()
    if roll < 0.35 and (ticket := _pick(Ticket)):
        ticket.status = rng.choice([s for s, _ in Ticket.STATUSES if s != ticket.status])
        ticket.save()
        return f"ticket {ticket.pk} -> {ticket.status}"
    if roll < 0.5:
        ticket = Ticket.objects.create(
            project=_pick(Project), title=f"Fix {rng.choice(WORDS)} #{rng.randint(100, 999)}"
        )
        return f"added ticket {ticket.pk}"
    if roll < 0.6 and (ticket := _pick(Ticket)):
        ticket.delete()
        return "deleted a ticket"
    if roll < 0.8 and (order := _pick(Order)):
        order.status = rng.choice([s for s, _ in Order.STATUSES if s != order.status])
        order.save()
        return f"order {order.pk} -> {order.status}"
    if roll < 0.9:
        with transaction.atomic():
            order = Order.objects.create(customer=_pick(Customer))
            for _ in range(rng.randint(1, 3)):
                OrderLine.objects.create(
                    order=order, product=rng.choice(PRODUCTS), quantity=rng.randint(1, 5)
                )
            order.total = Decimal(rng.randint(500, 9000)) / 100
            order.save()
        return f"added order {order.pk}"
    if customer := _pick(Customer):
        customer.email = f"{customer.name.split()[0].lower()}{rng.randint(1, 99)}@example.com"
        customer.save()
        return f"customer {customer.pk} email"
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
