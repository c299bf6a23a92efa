import random
from decimal import Decimal

from django.contrib.auth.models import Permission, User
from django.core.management.base import BaseCommand
from django.db import transaction

from shop.models import Customer, Order, OrderLine, Project, Ticket
from shop.simulator import PRODUCTS, WORDS

NAMES = (
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Donald",
    "Margaret",
    "Ken",
    "Frances",
    "John",
)


class Command(BaseCommand):
    help = "Seed the demo: customers, orders, projects, tickets, two superusers, a view-only user."

    @transaction.atomic
    def handle(self, **options):
        if not User.objects.filter(username="admin").exists():
            User.objects.create_superuser(
                "admin", password="admin", first_name="Demo", last_name="Admin"
            )
        if not User.objects.filter(username="bob").exists():  # a second editor, for two browsers
            User.objects.create_superuser(
                "bob", password="bob", first_name="Bob", last_name="Smith"
            )
        if not User.objects.filter(username="viewer").exists():
            viewer = User.objects.create_user("viewer", password="viewer", is_staff=True)
            viewer.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
        if Project.objects.exists():
            self.stdout.write("Demo data already there.")
            return
        rng = random.Random(1)
        customers = [
            Customer.objects.create(name=f"{name} {i}", email=f"{name.lower()}{i}@example.com")
            for i, name in enumerate(NAMES * 3)
        ]
        for _ in range(120):
            order = Order.objects.create(
                customer=rng.choice(customers),
                status=rng.choice([s for s, _ in Order.STATUSES]),
                total=Decimal(rng.randint(500, 9000)) / 100,
            )
            OrderLine.objects.bulk_create(
                OrderLine(order=order, product=rng.choice(PRODUCTS), quantity=rng.randint(1, 5))
                for _ in range(rng.randint(1, 3))
            )
        projects = [
            Project.objects.create(name=n) for n in ("Apollo", "Borealis", "Cygnus", "Draco")
        ]
        Ticket.objects.bulk_create(
            Ticket(
                project=rng.choice(projects),
                title=f"Fix {rng.choice(WORDS)} #{i}",
                status=rng.choice(["open", "doing", "done"]),
            )
            for i in range(300)
        )
        self.stdout.write("Demo data ready: 30 customers, 120 orders, 4 projects, 300 tickets.")
