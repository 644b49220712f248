"""`manage.py bench <name>`: run a named benchmark. Each app lists its own in `<app>/benchmarks.py` (BENCHMARKS)."""

import json
from importlib import import_module

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError


def registry() -> dict:
    found = {}
    for config in apps.get_app_configs():
        try:
            module = import_module(f"{config.name}.benchmarks")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.benchmarks":
                raise
            continue
        found.update(module.BENCHMARKS)
    return found


class Command(BaseCommand):
    help = "Run a benchmark and print its figures (one JSON object with --json)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="benchmark name, e.g. ledger")
        parser.add_argument("--json", action="store_true", dest="as_json", help="print one JSON object")
        parser.add_argument("--count", type=int, default=None, help="operations to run (benchmark-specific default)")
        parser.add_argument("--threads", type=int, default=None, help="concurrent submitters")

    def handle(self, *args, name, as_json: bool = False, count=None, threads=None, **options):
        benches = registry()
        if name not in benches:
            raise CommandError(f"unknown benchmark {name!r}; choose one of: {', '.join(sorted(benches))}")
        kwargs = {k: v for k, v in {"count": count, "threads": threads}.items() if v is not None}
        result = benches[name](log=lambda msg: None if as_json else self.stderr.write(msg), **kwargs)
        if as_json:
            self.stdout.write(_dumps(result))
        else:
            width = max(len(k) for k in result)
            for key, value in result.items():
                self.stdout.write(f"{key.ljust(width)}  {value}")


def _dumps(result):
    return json.dumps(result, sort_keys=False)
