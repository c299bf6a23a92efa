import errno
import os
import socket
import sys

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from shop.simulator import run_forever


class Command(BaseCommand):
    help = "Serve the demo admin over ASGI with the activity simulator running in the same process."

    def add_arguments(self, parser):
        parser.add_argument(
            "--addrport",
            default=f"127.0.0.1:{os.environ.get('DEMO_PORT') or 8000}",
            help="ADDR:PORT or PORT to serve on (default 127.0.0.1:$DEMO_PORT, else :8000).",
        )

    def handle(self, addrport, **options):
        host, _, port = addrport.rpartition(":")
        host = host.strip("[]") or "127.0.0.1"
        if not port.isdigit() or int(port) > 65535:
            raise CommandError(f"{addrport!r} is not ADDR:PORT or PORT.")
        addrport = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        # Fail here, loudly: daphne only logs a listen failure and then exits with status 0.
        try:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            socket.create_server((host, int(port)), family=family).close()
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise CommandError(f"cannot listen on {addrport}: {exc.strerror}") from exc
            self.stderr.write(
                f"error: {addrport} is in use; pick another port with "
                f"DEMO_PORT={int(port) + 1} (or --addrport)"
            )
            sys.exit(1)
        run_forever()
        self.stdout.write(
            f"\n  django-live-admin demo: http://{addrport}/admin/\n"
            "  superusers: admin / admin, bob / bob    view-only staff: viewer / viewer\n"
            "  (log in as each in two browsers to watch one's edits reach the other)\n"
            "  Rows change every second or two. Ctrl-C stops.\n"
        )
        # In-process (no autoreload), so the simulator's saves reach the in-memory channel layer.
        call_command("runserver", addrport, use_reloader=False)
