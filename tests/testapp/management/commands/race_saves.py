import json
import threading
import uuid

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand
from django.db import connection
from django.test import Client
from forms import form_data

from live_admin.conflicts import token as conflicts
from testapp.admin import TicketAdmin
from testapp.models import Project, Ticket


class Command(BaseCommand):
    help = (
        "Two admins save one ticket's change form at the same moment, each changing another "
        "field; print what the database holds after. The first holds its row lock until the "
        "second is about to take it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--no-lock", action="store_true", help="Take no lock (to see a race).")
        parser.add_argument(
            "--nullable-ordering",
            action="store_true",
            help="Order tickets through a nullable foreign key (an outer join in every query).",
        )
        parser.add_argument(
            "--list",
            action="store_true",
            help="Instead: a list_editable save while another transaction holds a write.",
        )

    def handle(self, no_lock, nullable_ordering, list, **options):
        if nullable_ordering:
            Ticket._meta.ordering = ["project__owner__username"]
        if list:
            return self.list_race()
        user = User.objects.create_superuser(f"racer-{uuid.uuid4().hex[:8]}", password="pw")
        ticket = Ticket.objects.create(project=Project.objects.create(name="Race"), title="before")
        url = f"/admin/testapp/ticket/{ticket.pk}/change/"
        clients = [Client(), Client()]
        for client in clients:
            client.force_login(user)
        first, second = (form_data(c.get(url).content, "ticket_form") for c in clients)

        inside, locking = threading.Event(), threading.Event()
        # Unlocked, the second save reads the row, then waits until the first has committed
        # (or failed), so the race is the same on every run rather than left to timing.
        second_read, first_done = threading.Event(), threading.Event()
        real_lock, real_save = conflicts.lock, TicketAdmin.save_model

        def lock(model, using, **lookup):
            if threading.current_thread().name == "second":
                locking.set()
            if not no_lock:
                real_lock(model, using, **lookup)

        def save_model(admin, request, obj, form, change):
            name = threading.current_thread().name
            if name == "first":
                inside.set()
                if not (second_read if no_lock else locking).wait(30):
                    raise RuntimeError("the second save never came")
            elif no_lock:
                second_read.set()
                if not first_done.wait(30):
                    raise RuntimeError("the first save never ended")
            real_save(admin, request, obj, form, change)

        conflicts.lock, TicketAdmin.save_model = lock, save_model
        codes = {}

        def post(name, client, data):
            try:
                codes[name] = client.post(url, data).status_code
            except Exception as exc:  # a "database is locked", say
                codes[name] = repr(exc)
            finally:
                connection.close()
                if name == "first":
                    first_done.set()

        one = threading.Thread(
            target=post, name="first", args=("first", clients[0], {**first, "title": "after"})
        )
        two = threading.Thread(
            target=post, name="second", args=("second", clients[1], {**second, "status": "done"})
        )
        one.start()
        if not inside.wait(30):
            raise RuntimeError("the first save never got in")
        two.start()
        one.join(60)
        two.join(60)
        ticket.refresh_from_db()
        self.stdout.write(json.dumps({**codes, "title": ticket.title, "status": ticket.status}))

    def list_race(self):
        """A changelist save while another transaction has written and not yet committed: it
        waits for the other to commit, then saves (SQLite takes its write lock first)."""
        from django.db import transaction

        from testapp.models import Order

        user = User.objects.create_superuser(f"racer-{uuid.uuid4().hex[:8]}", password="pw")
        ann, ben = Order.objects.create(customer="Ann"), Order.objects.create(customer="Ben")
        client = Client()
        client.force_login(user)
        url = "/admin/testapp/order/"
        data = form_data(client.get(url).content, "changelist-form")
        row = next(i for i in range(2) if data[f"form-{i}-id"] == str(ann.pk))
        inside, locking = threading.Event(), threading.Event()
        real_lock = conflicts.lock

        def lock(model, using, **lookup):
            locking.set()
            real_lock(model, using, **lookup)

        conflicts.lock = lock
        codes = {}

        def writer():
            try:
                with transaction.atomic():
                    Order.objects.filter(pk=ben.pk).update(customer="Ben B.")
                    inside.set()
                    if not locking.wait(30):
                        raise RuntimeError("the list save never came")
                codes["writer"] = "committed"
            finally:
                connection.close()

        def save():
            try:
                edit = {**data, f"form-{row}-status": "paid", "_save": "Save"}
                codes["list"] = client.post(url, edit).status_code
            except Exception as exc:
                codes["list"] = repr(exc)
            finally:
                connection.close()

        one = threading.Thread(target=writer)
        one.start()
        if not inside.wait(30):
            raise RuntimeError("the writer never got in")
        two = threading.Thread(target=save)
        two.start()
        one.join(60)
        two.join(60)
        ann.refresh_from_db()
        self.stdout.write(json.dumps({**codes, "status": ann.status}))
