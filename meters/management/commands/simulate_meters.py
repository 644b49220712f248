"""`manage.py simulate_meters`: a fleet of simulated smart meters that sign their readings and post them to the
oracle, in real time or faster, or a replay of readings from a CSV file. See docs/SIMULATOR.md.

It is a client of the platform's REST API: it needs a running server (`--url`), not the database.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from meters.options import parse_duration, parse_mix, parse_site, parse_start
from meters.physics import DEFAULT_MIX
from meters.registration import RegistrationError
from meters.runner import SimulationConfig, Summary, simulate

DEFAULT_SITE = "13.76,100.69,Asia/Bangkok"
DEFAULT_MIX_TEXT = ",".join(f"{kind.value}={share:g}" for kind, share in DEFAULT_MIX.items())


class Command(BaseCommand):
    help = "Simulate smart meters that sign their readings and post them to the oracle; Ctrl-C stops."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        parser.add_argument("--meters", type=int, default=20, help="meters in the fleet (default 20)")
        parser.add_argument("--mix", default=DEFAULT_MIX_TEXT,
                            help=f"share of each kind of meter (default {DEFAULT_MIX_TEXT})")
        parser.add_argument("--site", default=DEFAULT_SITE,
                            help=f"LAT,LON[,TIMEZONE] of the neighbourhood (default {DEFAULT_SITE})")
        parser.add_argument("--start",
                            help="ISO time the simulated clock starts at, local to the site without an offset "
                                 "(default: now with --speed 1 or less, else the site's midnight today)")
        parser.add_argument("--speed", type=float, default=900.0,
                            help="simulated seconds per wall-clock second; 0 = as fast as possible (default 900: "
                                 "one 15-minute interval a second, until the simulation reaches the present)")
        parser.add_argument("--seed", type=int, default=1,
                            help="same seed, same meters, keys and readings (default 1)")
        parser.add_argument("--duration",
                            help="simulated time to run: 1d, 6h, 90m, or a number of intervals (default: until Ctrl-C)")
        parser.add_argument("--interval", type=int, default=900, help="interval length in seconds (default 900)")
        parser.add_argument("--url", default="http://127.0.0.1:8000",
                            help="the server's base URL (default http://127.0.0.1:8000)")
        parser.add_argument("--concurrency", type=int, default=64, help="most HTTP requests in flight (default 64)")
        parser.add_argument("--batch", type=int, default=0,
                            help="0: each meter posts its own readings (default); N: aggregators post N readings "
                                 "per request to the batch endpoint")
        parser.add_argument("--zone", help="register every meter in this zone (default: the zones in turn)")
        parser.add_argument("--replay", type=Path, metavar="FILE.csv",
                            help="send the readings of a CSV file, signed with the fleet's keys, instead of simulating")
        parser.add_argument("--export", type=Path, metavar="FILE.csv", help="also write the readings to a CSV file")
        parser.add_argument("--quiet", action="store_true", help="no live progress line")

    def handle(self, *args, **options):
        try:
            config = self._config(options)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        # httpx logs every request at INFO; the progress line already counts them.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        try:
            summary = asyncio.run(self._run(config, quiet=options["quiet"]))
        except (RegistrationError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(summary.text())

    @staticmethod
    def _config(options: dict) -> SimulationConfig:
        site = parse_site(options["site"])
        return SimulationConfig(
            url=options["url"],
            meters=options["meters"],
            seed=options["seed"],
            start=parse_start(options["start"], site) if options["start"] else None,
            intervals=parse_duration(options["duration"], options["interval"]) if options["duration"] else None,
            speed=options["speed"],
            batch=options["batch"],
            mix=parse_mix(options["mix"]),
            site=site,
            interval_seconds=options["interval"],
            concurrency=options["concurrency"],
            zone=options["zone"],
            replay=options["replay"],
            export=options["export"],
        )

    async def _run(self, config: SimulationConfig, *, quiet: bool) -> Summary:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):  # not on this platform, or not the main thread
                pass
        # The raw stream: the live line rewrites itself with a carriage return, so no added newline or colour.
        return await simulate(config, out=self.stderr._out, live=not quiet, stop=stop)
