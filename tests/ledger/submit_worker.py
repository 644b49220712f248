"""A separate process that submits transactions to the shared ledger: `python submit_worker.py <wire-hex-file>`,
the first half one at a time and the rest in one batch.

Prints one JSON line: {"committed": [txid, ...], "failed": [[txid, error], ...], "led": bool}.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridtokenx.settings")

import django  # noqa: E402

django.setup()

from ledger import node as ledger_node  # noqa: E402
from ledger import services  # noqa: E402
from ledger.errors import GridTokenXError  # noqa: E402


def main(path: str) -> None:
    committed, failed = [], []
    with open(path) as fh:
        wires = [bytes.fromhex(line.strip()) for line in fh if line.strip()]
    # The first half one at a time, the rest together (a process that is not the sequencer hands those over
    # through the pending table in one insert and waits for them together).
    half = len(wires) // 2
    for wire in wires[:half]:
        try:
            committed.append(services.transaction_submit(wire=wire, timeout=120).signature)
        except GridTokenXError as exc:
            failed.append([exc.code, exc.message])
    for outcome in services.transactions_submit_many(wires[half:], timeout=120):
        if isinstance(outcome, GridTokenXError):
            failed.append([outcome.code, outcome.message])
        else:
            committed.append(outcome.signature)
    led = ledger_node.node().sequencer is not None
    ledger_node.shutdown()
    print(json.dumps({"committed": committed, "failed": failed, "led": led}))


if __name__ == "__main__":
    main(sys.argv[1])
