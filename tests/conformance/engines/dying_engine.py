"""A faulty engine: its process exits on the third apply."""

import os
import sys

from faulty import run


def fault() -> None:
    print("dying-engine: segmentation fault (simulated)", file=sys.stderr, flush=True)
    os._exit(3)


if __name__ == "__main__":
    run(fault, "dying-engine")
