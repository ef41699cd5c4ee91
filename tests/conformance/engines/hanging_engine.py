"""A faulty engine: never answers the third apply (the per-step timeout must fire)."""

import time

from faulty import run


def fault() -> None:
    time.sleep(3600)


if __name__ == "__main__":
    run(fault, "hanging-engine")
