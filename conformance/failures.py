"""How an engine failing to answer is represented.

An engine that raises, dies, hangs or replies with something that is not the protocol does not
violate a rule: it fails the step. The runner records the step as an *engine failure* with the
reason carried by ``EngineFailure`` and restarts the engine (``reset``) for the next case.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading
from collections.abc import Callable, Iterator

DEFAULT_STEP_TIMEOUT = 10.0  # seconds a request may take (in process and over JSON lines alike)


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


#: characters of engine-supplied text (an error message, a line of its stderr) quoted in a failure reason
ENGINE_TEXT_LIMIT = 300


def engine_text(text: str, limit: int = ENGINE_TEXT_LIMIT) -> str:
    """Text an engine supplied, fit for a one-line reason: control characters and line breaks as spaces, runs of
    whitespace as one, and at most ``limit`` characters (the rest counted, not quoted)."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text[:4 * limit]).split())
    if len(text) > 4 * limit or len(flat) > limit:
        return flat[:limit] + f"... ({len(text)} characters in all)"
    return flat


def wrap_exception(exc: BaseException, op: str) -> EngineFailure:
    """An exception from an in-process adapter as an engine failure (its type and message, no traceback).

    ``SystemExit`` (the engine calling ``sys.exit``) is the engine dying: kind ``died``. The caller
    lets ``KeyboardInterrupt`` through: it stops the run.
    """
    if isinstance(exc, EngineFailure):
        return exc
    if isinstance(exc, _Overdue):  # the alarm went off just as the call returned
        return EngineFailure("timeout", f"{op}: no reply within the step timeout")
    if isinstance(exc, SystemExit):
        return EngineFailure("died", f"{op}: the engine called sys.exit({readable(exc.code, repr)})")
    text = readable(exc, str).strip()
    message = engine_text(text.splitlines()[0]) if text else ""
    return EngineFailure("raised", f"{op}: {type(exc).__name__}{': ' + message if message else ''}")


def readable(value: object, show: Callable[[object], object]) -> str:
    """``show(value)`` (``str`` or ``repr``) of something an engine supplied, or "" when it cannot be read: a
    ``__str__`` that raises or returns something other than a string (the failure is then named by the
    exception's type alone). ``KeyboardInterrupt`` goes through."""
    try:
        text = show(value)
    except KeyboardInterrupt:
        raise
    except BaseException:  # noqa: BLE001 - an engine's broken __str__ must not fail the run
        return ""
    return str.__str__(text) if isinstance(text, str) else ""


class _Overdue(BaseException):
    """Raised in the main thread by the deadline's alarm (a BaseException: an adapter's own
    ``except Exception`` does not swallow it)."""


LONGEST_STEP_TIMEOUT = 10.0**6  # seconds; a longer timeout is this one (the platform timer has a range)


def step_timeout_seconds(text: str) -> float:
    """A ``--timeout`` argument: a positive number of seconds, finite as a float too (argparse's error otherwise,
    exit status 2); one beyond ``LONGEST_STEP_TIMEOUT`` is taken as that one where it is used."""
    from decimal import Decimal, InvalidOperation

    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not value.is_finite() or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    seconds = float(value)  # a timeout, not money
    if seconds == float("inf"):  # 1e309: finite as a decimal, not as a float
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds (at most 10^6 are used), got {text!r}")
    return seconds


@contextlib.contextmanager
def deadline(seconds: float | None, op: str) -> Iterator[None]:
    """Bound an in-process adapter call: past ``seconds`` it is interrupted and fails as ``timeout``.

    A ``SIGALRM`` timer interrupts Python code at its next bytecode (a call stuck inside C code is
    interrupted when it returns to Python; an engine that catches ``BaseException`` and carries on
    is not). The timer is only used where it can be: on the main thread, on a platform with
    ``signal.setitimer``, and when no other real-time timer is running (pytest-timeout's, say);
    elsewhere the call runs unbounded. ``None`` or 0: unbounded. The timer is disarmed before the
    previous ``SIGALRM`` handler is put back, on every path; an alarm that goes off as the call
    returns still counts as a timeout.
    """
    if not seconds or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread() \
            or signal.getitimer(signal.ITIMER_REAL)[0]:
        yield
        return

    def overdue(signum: int, frame: object) -> None:
        raise _Overdue

    previous = signal.signal(signal.SIGALRM, overdue)
    try:
        try:
            signal.setitimer(signal.ITIMER_REAL, min(seconds, LONGEST_STEP_TIMEOUT))
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _Overdue:
        raise EngineFailure("timeout", f"{op}: no reply within {seconds:g} s") from None
    finally:
        signal.signal(signal.SIGALRM, previous)
