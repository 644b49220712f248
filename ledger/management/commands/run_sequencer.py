"""`manage.py run_sequencer`: a dedicated process that orders and stores the ledger's blocks (production).

Waits until it holds the sequencer lock (while another process holds it, this one stands by), then serves as the
sequencer until SIGTERM or SIGINT, and stops cleanly: transactions already handed over are stored and answered,
and the lock is released for the next leader. If the sequencer fails (the database refused a block), the command
exits with status 1 so the process supervisor restarts it with a state reloaded from the database.
"""

from __future__ import annotations

import logging
import signal
import threading
import time

from django.core.management.base import BaseCommand, CommandError

from ledger import node as ledger_node

log = logging.getLogger("ledger.sequencer")

HEALTH_POLL_S = 1.0


class Command(BaseCommand):
    help = "Run this process as the ledger's sequencer until SIGTERM or SIGINT."

    def add_arguments(self, parser):
        parser.add_argument("--retry", type=float, default=2.0,
                            help="seconds between attempts to take the sequencer lock (default 2)")
        parser.add_argument("--log-every", type=float, default=60.0,
                            help="seconds between reports of the chain height (default 60)")

    def handle(self, *args, retry: float, log_every: float, **options):
        stop = threading.Event()

        def request_stop(signum, frame):
            log.info("ledger: %s received, stopping the sequencer", signal.Signals(signum).name)
            stop.set()

        previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self._serve(stop, retry, log_every)
        finally:
            ledger_node.shutdown()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        log.info("ledger: sequencer stopped")

    def _serve(self, stop: threading.Event, retry: float, log_every: float) -> None:
        seq = ledger_node.node().try_lead()
        if seq is None:
            log.info("ledger: another process is the sequencer; standing by")
        while seq is None:
            if stop.wait(retry):
                return
            seq = ledger_node.node().try_lead()
        log.info("ledger: sequencing from height %s", seq.state.tip.height)

        last_report = time.monotonic()
        reported = dict(seq.stats)
        while not stop.wait(HEALTH_POLL_S):
            if ledger_node.node().sequencer is not seq:
                raise CommandError(f"the sequencer failed: {seq.failure or 'stopped'}")
            if time.monotonic() - last_report >= log_every:
                stats = dict(seq.stats)
                log.info("ledger: height %s, %s transactions in %s blocks since the last report, %s rejected",
                         seq.state.tip.height, stats["transactions"] - reported["transactions"],
                         stats["blocks"] - reported["blocks"], stats["rejected"] - reported["rejected"])
                last_report, reported = time.monotonic(), stats
