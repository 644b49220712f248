"""`manage.py reconcile_registry [--fix]`: compare the registry's tables with its ledger accounts; exit 1 on any
difference. `--fix` sets statuses that differ to the ledger's, which is the truth."""

from django.core.management.base import BaseCommand, CommandError

from registry.services import reconcile


class Command(BaseCommand):
    help = "Compare the registry's database mirror with the ledger; exits 1 if they differ."

    def add_arguments(self, parser):
        parser.add_argument("--fix", action="store_true", help="set differing statuses to the ledger's")

    def handle(self, *args, fix=False, **options):
        problems = reconcile(fix=fix)
        for p in problems:
            self.stdout.write(f"{p.kind} {p.key}: {p.problem}")
        if problems:
            raise CommandError(f"{len(problems)} difference(s) between the registry tables and the ledger")
        self.stdout.write(self.style.SUCCESS("registry tables and ledger agree"))
