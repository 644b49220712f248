"""`manage.py settle_readings`: settle pending meter readings on the ledger now (what the schedule runs)."""

import json

from django.core.management.base import BaseCommand, CommandError

from ledger import node as ledger_node
from oracle.services import settle


class Command(BaseCommand):
    help = "Mint and burn GXT for pending meter readings now; safe to run at any time, also beside the schedule."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=None, help="at most this many readings")

    def handle(self, *args, limit=None, **options):
        try:
            report = settle(limit=limit)
        finally:
            ledger_node.shutdown()
        self.stdout.write(json.dumps(report.as_dict()))
        if report.busy:
            raise CommandError("another settler is running; try again when it has finished")
        if report.failed:
            raise CommandError(f"{report.failed} settlement(s) failed: " + "; ".join(report.errors))
