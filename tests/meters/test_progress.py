"""The live progress line and the counters behind it."""

import io
import time

from meters.physics import BANGKOK
from meters.progress import Progress, Stats


def test_the_live_line_rewrites_itself_in_place_and_is_cleared_at_the_end():
    out = io.StringIO()
    stats = Stats(generated=40, sent=30, accepted=25, duplicates=2, retries=1, sim_time=1_740_961_800)
    progress = Progress(stats, out=out, live=True, meters=20, tz=BANGKOK.tz)
    progress.tick()
    line = out.getvalue()
    assert line.startswith("\rsim 2025-03-03 07:30  meters 20  sent 30  accepted 25  duplicates 2  rejected 0")
    assert line.endswith("retries 1") and "\n" not in line
    progress.clear()
    assert out.getvalue().endswith("\r" + " " * (len(line) - 1) + "\r")


def test_quiet_shows_no_line_but_still_the_first_rejection_reasons():
    out = io.StringIO()
    stats = Stats(generated=7, sent=7)
    progress = Progress(stats, out=out, live=False, meters=1, tz=BANGKOK.tz)
    progress.tick()
    for _ in range(7):
        progress.rejection("stale_interval", "older than the last accepted interval")
    assert out.getvalue().count("rejected: stale_interval: older than the last accepted interval") == 5
    assert (stats.rejected, stats.rejections, stats.pending) == (7, {"stale_interval": 7}, 0)


def test_while_waiting_for_the_next_interval_the_line_says_how_long():
    stats = Stats(next_send=time.time() + 13 * 60 + 47.2)
    line = Progress(stats, out=io.StringIO(), live=True, meters=5, tz=BANGKOK.tz).line()
    assert line.startswith("sim -  meters 5")
    assert line.endswith("next interval in 13:47")
