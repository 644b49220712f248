"""A separate process that submits transactions to the shared ledger: `python submit_worker.py <wire-hex-file>`.

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
    for wire in wires:
        try:
            committed.append(services.transaction_submit(wire=wire, timeout=120).signature)
        except GridTokenXError as exc:
            failed.append([exc.code, exc.message])
    led = ledger_node.node().sequencer is not None
    ledger_node.shutdown()
    print(json.dumps({"committed": committed, "failed": failed, "led": led}))


if __name__ == "__main__":
    main(sys.argv[1])
