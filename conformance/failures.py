"""How an engine failing to answer is represented.

An engine that raises, dies, hangs or replies with something that is not the protocol does not
violate a rule: it fails the step. The runner records the step as an *engine failure* with the
reason carried by ``EngineFailure`` and restarts the engine (``reset``) for the next case.
"""

from __future__ import annotations


class EngineFailure(Exception):
    """The engine could not complete a request; ``reason`` says why in one line.

    ``kind`` is one of ``raised`` (the engine reported or raised an error), ``died`` (its process
    exited), ``timeout`` (no reply within the per-step timeout), ``malformed`` (a reply that is not
    the protocol) and ``handshake`` (the hello exchange failed).
    """

    KINDS = ("raised", "died", "timeout", "malformed", "handshake")

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(f"{kind}: {reason}")
        self.kind = kind
        self.reason = reason

    def __str__(self) -> str:
        return f"engine {self.kind}: {self.reason}"


def wrap_exception(exc: BaseException, op: str) -> EngineFailure:
    """An exception from an in-process adapter as an engine failure (its type and message, no traceback)."""
    if isinstance(exc, EngineFailure):
        return exc
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return EngineFailure("raised", f"{op}: {type(exc).__name__}{': ' + message if message else ''}")
