"""run_sequencer stands by while another process leads, takes over when the lock frees, serves other processes'
submissions, and stops cleanly on SIGTERM."""

import signal
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from ledger import node as ledger_node
from ledger import selectors, services
from tests.factories import transfer, wallet
from tests.ledger.test_concurrency import worker_env

MANAGE = Path(settings.BASE_DIR) / "manage.py"


def wait_for(proc: subprocess.Popen, lines: list[str], text: str) -> None:
    """Read the command's log until `text` appears (pytest-timeout bounds a command that hangs silently)."""
    for line in iter(proc.stderr.readline, ""):
        lines.append(line)
        if text in line:
            return
    proc.wait()
    raise AssertionError(f"run_sequencer exited ({proc.returncode}) without logging {text!r}:\n{''.join(lines)}")


def test_it_waits_for_the_lock_then_sequences_until_sigterm(ledger):
    alice = wallet("alice", gxt=1_000)
    bob = wallet("bob")
    # --skip-checks: the PostgreSQL pass runs with DEBUG off on the development keys, which the checks refuse.
    proc = subprocess.Popen([sys.executable, str(MANAGE), "run_sequencer", "--retry", "0.1", "--skip-checks"],
                            env=worker_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    try:
        wait_for(proc, lines, "standing by")
        ledger_node.shutdown()  # this process steps down; the command must take over
        wait_for(proc, lines, "sequencing from height")

        assert ledger_node.node().try_lead() is None
        services.transaction_submit(wire=transfer(alice, bob, 400).wire, timeout=30)
        assert selectors.wallet_balances(bob.pubkey)["GXT"] == 400

        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, "".join(lines) + err
    assert "sequencer stopped" in err
