from django.core.management.base import BaseCommand

from testapp.models import Ticket


class Command(BaseCommand):
    help = "Change a ticket's status and exit (a writer in its own process)."

    def add_arguments(self, parser):
        parser.add_argument("pk", type=int)
        parser.add_argument("status")

    def handle(self, pk, status, **options):
        ticket = Ticket.objects.get(pk=pk)
        ticket.status = status
        ticket.save()
