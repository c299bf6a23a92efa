import random

from django.contrib.auth.models import Permission, User
from django.core.management.base import BaseCommand

from shop.models import Project, Ticket
from shop.simulator import WORDS


class Command(BaseCommand):
    help = "Seed the demo: projects, a few hundred tickets, a superuser and a view-only user."

    def handle(self, **options):
        if not User.objects.filter(username="admin").exists():
            User.objects.create_superuser("admin", password="admin")
        if not User.objects.filter(username="viewer").exists():
            viewer = User.objects.create_user("viewer", password="viewer", is_staff=True)
            viewer.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
        if not Project.objects.exists():
            rng = random.Random(1)
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
        self.stdout.write("Demo data ready.")
