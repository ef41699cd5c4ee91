"""How an engine failing to answer is represented.

An engine that raises, dies, hangs or replies with something that is not the protocol does not
violate a rule: it fails the step. The runner records the step as an *engine failure* with the
reason carried by ``EngineFailure`` and restarts the engine (``reset``) for the next case.
"""

from __future__ import annotations


class EngineFailure(Exception):
    """The engine could not complete a request; ``reason`` says why in one line.

    ``kind`` is one of ``raised`` (the engine reported or raised an error), ``died`` (its process
    exited, or an in-process adapter raised ``SystemExit``), ``timeout`` (no reply within the
    per-step timeout), ``malformed`` (a reply that is not the protocol, or an outcome or snapshot
    without the documented shape), ``handshake`` (the hello exchange failed, or the engine's name
    or capabilities are not valid) and ``start`` (the engine could not be started at all; the
    report's only failure, nothing was run).
    """

    KINDS = ("raised", "died", "timeout", "malformed", "handshake", "start")

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(f"{kind}: {reason}")
        self.kind = kind
        self.reason = reason

    def __str__(self) -> str:
        return f"engine {self.kind}: {self.reason}"


def wrap_exception(exc: BaseException, op: str) -> EngineFailure:
    """An exception from an in-process adapter as an engine failure (its type and message, no traceback).

    ``SystemExit`` (the engine calling ``sys.exit``) is the engine dying: kind ``died``. The caller
    lets ``KeyboardInterrupt`` through: it stops the run.
    """
    if isinstance(exc, EngineFailure):
        return exc
    if isinstance(exc, SystemExit):
        return EngineFailure("died", f"{op}: the engine called sys.exit({exc.code!r})")
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return EngineFailure("raised", f"{op}: {type(exc).__name__}{': ' + message if message else ''}")
