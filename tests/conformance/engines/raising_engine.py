"""A faulty engine: raises on the third apply (reported as {"ok": false} over JSON lines)."""

from faulty import run


def fault() -> None:
    raise RuntimeError("order book corrupted")


if __name__ == "__main__":
    run(fault, "raising-engine")
