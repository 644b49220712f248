"""`manage.py bench <name>`: run a named benchmark. Each app lists its own in `<app>/benchmarks.py` (BENCHMARKS)."""

import inspect
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


# Options some benchmarks take; a benchmark that does not take one refuses it by name.
OPTIONS = {
    "meters": "meters in the fleet (ingest)",
    "batch": "readings per request, 0 for one per request (ingest); orders per request, 1 to 20 (orders)",
    "servers": "server processes (ingest, orders)",
    "orders": "orders in the synthetic flow (matching)",
    "traders": "sellers, and as many buyers, each with its own client (orders)",
    "seed": "seed of the synthetic flow (matching, orders)",
}


class Command(BaseCommand):
    help = "Run a benchmark and print its figures (one JSON object with --json)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="benchmark name, e.g. ledger")
        parser.add_argument("--json", action="store_true", dest="as_json", help="print one JSON object")
        parser.add_argument("--count", type=int, default=None, help="operations to run (benchmark-specific default)")
        parser.add_argument("--threads", type=int, default=None, help="concurrent submitters")
        for option, text in OPTIONS.items():
            parser.add_argument(f"--{option}", type=int, default=None, help=text)

    def handle(self, *args, name, as_json: bool = False, **options):
        benches = registry()
        if name not in benches:
            raise CommandError(f"unknown benchmark {name!r}; choose one of: {', '.join(sorted(benches))}")
        bench = benches[name]
        accepted = inspect.signature(bench).parameters
        kwargs = {}
        for option in ("count", "threads", *OPTIONS):
            value = options.get(option)
            if value is None:
                continue
            if option not in accepted:
                raise CommandError(f"benchmark {name!r} does not take --{option}")
            kwargs[option] = value
        result = bench(log=lambda msg: None if as_json else self.stderr.write(msg), **kwargs)
        if as_json:
            self.stdout.write(_dumps(result))
        else:
            width = max(len(k) for k in result)
            for key, value in result.items():
                self.stdout.write(f"{key.ljust(width)}  {value}")


def _dumps(result):
    return json.dumps(result, sort_keys=False)
