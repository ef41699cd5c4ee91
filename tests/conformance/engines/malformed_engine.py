"""A faulty engine: answers the third apply with a line that is not protocol JSON."""

import sys

from faulty import run


def fault() -> None:
    sys.stdout.write("OK, order accepted!\n")  # stdout is reserved for the protocol
    sys.stdout.flush()


if __name__ == "__main__":
    run(fault, "malformed-engine")
