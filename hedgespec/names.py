"""File names as Unicode text, for reports and messages.

A name the operating system gives in bytes that are not UTF-8 (``b"\\xff.json"``) reaches Python as a
string with lone surrogates (``"\\udcff.json"``, PEP 383). Such a string cannot be written to a UTF-8
file, nor printed to a strict UTF-8 stream: every name a report or a trace carries goes through
``text_name`` first. The file itself is still opened by its original name.
"""

from __future__ import annotations

import os


def text_name(name: str | os.PathLike[str]) -> str:
    """``name`` as text: bytes of it that are not UTF-8 are shown as U+FFFD (the name is for reading only)."""
    text = os.fspath(name)
    if not any("\udc80" <= c <= "\udcff" for c in text):
        return text
    return os.fsencode(text).decode("utf-8", "replace")
