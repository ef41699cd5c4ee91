"""A faulty engine: answers the third apply with the line in the file $HEDGESPEC_RAW_REPLY ({id}: the request's id)."""

import json
import os
import sys

from hedgespec.conformance.adapter import ReferenceAdapter
from hedgespec.conformance.jsonl import PROTOCOL, encode_line

FAULT_AT = int(os.environ.get("HEDGESPEC_FAULT_AT", "3"))


def main() -> None:
    adapter, applied = ReferenceAdapter("seed"), 0
    for line in sys.stdin:
        request = json.loads(line)
        op, rid = request["op"], request["id"]
        result = None
        if op == "hello":
            result = {"protocol": PROTOCOL, "name": "raw-reply-engine", "capabilities": sorted(adapter.capabilities)}
        elif op == "reset":
            applied = 0
            adapter.reset(request["params"])
        elif op == "apply":
            applied += 1
            if applied == FAULT_AT:
                with open(os.environ["HEDGESPEC_RAW_REPLY"], encoding="utf-8") as raw:
                    sys.stdout.write(raw.read().replace("{id}", str(rid)) + "\n")
                sys.stdout.flush()
                continue
            result = adapter.apply(request["action"])
        elif op == "snapshot":
            result = adapter.snapshot()
        sys.stdout.write(encode_line({"id": rid, "ok": True, "result": result}))
        sys.stdout.flush()
        if op == "close":
            return


if __name__ == "__main__":
    main()
