from django.core.management import call_command
from django.core.management.base import BaseCommand

from shop.simulator import run_forever


class Command(BaseCommand):
    help = "Serve the demo admin over ASGI with the activity simulator running in the same process."

    def add_arguments(self, parser):
        parser.add_argument("--addrport", default="127.0.0.1:8000")

    def handle(self, addrport, **options):
        run_forever()
        self.stdout.write(
            f"\n  django-live-admin demo: http://{addrport}/admin/\n"
            "  superuser: admin / admin    view-only staff: viewer / viewer\n"
            "  (log in as each in two browsers to watch one's edits reach the other)\n"
            "  Rows change every second or two. Ctrl-C stops.\n"
        )
        # In-process (no autoreload), so the simulator's saves reach the in-memory channel layer.
        call_command("runserver", addrport, use_reloader=False)
