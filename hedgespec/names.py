"""File names as Unicode text, for reports and messages.

A name the operating system gives in bytes that are not UTF-8 (``b"\\xff.json"``) reaches Python as a
string with lone surrogates (``"\\udcff.json"``, PEP 383). Such a string cannot be written to a UTF-8
file, nor printed to a strict UTF-8 stream: every name a report or a trace carries goes through
``text_name`` first. The file itself is still opened by its original name.
"""

from __future__ import annotations

import os

from hedgespec.jsonio import lone_surrogate_in


def text_name(name: str | os.PathLike[str]) -> str:
    """``name`` as text: bytes of it that are not UTF-8 are shown as U+FFFD (the name is for reading only)."""
    text = os.fspath(name)
    if lone_surrogate_in(text) is None:
        return text
    try:
        return os.fsencode(text).decode("utf-8", "replace")
    except UnicodeEncodeError:  # a surrogate that no file system name decodes to (outside U+DC80-U+DCFF)
        return text.encode("utf-8", "replace").decode("utf-8")
