"""okx importer (in progress)."""
from __future__ import annotations

from typing import Any


def add_arguments(parser: Any) -> None:
    pass
