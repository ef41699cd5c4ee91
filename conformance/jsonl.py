"""The out-of-process engine protocol ``hedgespec-engine/1``: JSON lines over stdin/stdout.

hedgespec starts the engine as a child process and writes one JSON object per line to its
stdin; the engine answers each with one JSON object per line on its stdout, echoing the
request's ``id``. stdout is reserved for the protocol: an engine logs to stderr.

Requests (``id`` is an integer, increasing from 0)::

    {"id":0,"op":"hello","protocol":"hedgespec-engine/1"}
    {"id":1,"op":"reset","params":{...run parameters...}}
    {"id":2,"op":"apply","action":{...one action...}}
    {"id":3,"op":"snapshot"}
    {"id":4,"op":"close"}

Replies::

    {"id":0,"ok":true,"result":{"protocol":"hedgespec-engine/1","name":"...","capabilities":[...]}}
    {"id":1,"ok":true,"result":null}
    {"id":2,"ok":true,"result":{...outcome...}}
    {"id":3,"ok":true,"result":{...snapshot...}}
    {"id":4,"ok":true,"result":null}
    {"id":n,"ok":false,"error":{"message":"..."}}

Every number in params, actions, outcomes and snapshots is a decimal string; the only JSON numbers
are integers at ``id``, an action's ``t`` and a snapshot's ``time``. A reply holding a JSON
fraction (``1.5``) is malformed.

Failure policy (the full text is docs/formats/protocol.md): when the process exits, does not answer
within the per-step ``timeout``, or answers with something that is not a reply to the request
(not JSON, wrong ``id``, missing ``ok``), the request raises ``EngineFailure`` naming the reason
and the tail of the engine's stderr; the process is killed, and the next ``reset`` starts a fresh
one with a new handshake. ``{"ok": false}`` is an engine-reported error: the step fails with
that message and the process is kept.

``serve(adapter)`` runs the other side: any in-process adapter served over JSON lines
(``python -m hedgespec.conformance.jsonl module:factory``).
"""

from __future__ import annotations

import collections
import json
import os
import queue
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from typing import IO, Any

from hedgespec.jsonio import lone_surrogate_at, lone_surrogate_in, too_long_number, unique_keys

from .failures import DEFAULT_STEP_TIMEOUT, LONGEST_STEP_TIMEOUT, EngineFailure, engine_text, wrap_exception
from .loading import declared_capabilities

PROTOCOL = "hedgespec-engine/1"
DEFAULT_TIMEOUT = DEFAULT_STEP_TIMEOUT
STDERR_TAIL_LINES = 20
#: keys where an integer JSON number is allowed (everything else numeric is a decimal string)
INTEGER_KEYS = frozenset({"id", "t", "time"})


class _Fraction:
    """A fractional JSON number (or NaN, Infinity) as read, kept until its place is known."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class NotUTF8:
    """A line of the engine's stdout whose bytes are not UTF-8 (the protocol is UTF-8: never decoded leniently)."""

    __slots__ = ("byte", "offset")

    def __init__(self, byte: int, offset: int) -> None:
        self.byte, self.offset = byte, offset


class NumberError(ValueError):
    """A fractional JSON number in a protocol line; ``path`` names its place (``result.events[0].fee``)."""

    def __init__(self, path: str, text: str, integer: bool) -> None:
        self.path, self.text, self.integer = path, text, integer
        need = "a whole JSON number is required" if integer else 'a decimal string (e.g. "0.5") is required'
        super().__init__(f"{path}: JSON number {text} where {need}")


def _first_fraction(obj: Any, path: str, key: str | None = None) -> NumberError | None:
    if isinstance(obj, _Fraction):
        return NumberError(path, obj.text, key in INTEGER_KEYS)
    if isinstance(obj, dict):
        for k, value in obj.items():
            found = _first_fraction(value, f"{path}.{k}" if path else str(k), str(k))
            if found:
                return found
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            found = _first_fraction(value, f"{path}[{i}]")
            if found:
                return found
    return None


def decode_line(line: str) -> Any:
    """One protocol line -> JSON data; a fractional JSON number is refused (``NumberError``, a ValueError,
    naming its place), and so is a key given twice in one object (``jsonio.JSONInputError``, naming the key)."""
    data = json.loads(line, parse_float=_Fraction, parse_constant=_Fraction, object_pairs_hook=unique_keys)
    found = _first_fraction(data, "")
    if found:
        raise found
    return data


def reply_path(path: str, op: str) -> str:
    """A place in a reply named as the rest of the report names it: ``result.events[0].fee`` of an
    ``apply`` is ``outcome.events[0].fee``, ``result.time`` of a ``snapshot`` is ``snapshot.time``."""
    root = {"apply": "outcome", "snapshot": "snapshot"}.get(op)
    if root and (path == "result" or path.startswith(("result.", "result["))):
        return root + path[len("result"):]
    return path


def _short_repr(value: Any, limit: int = 120) -> str:
    """``repr`` of a value an engine sent, at most ``limit`` characters (and none for one nested too deeply)."""
    try:
        text = repr(value)
    except RecursionError:
        return "(a value nested too deeply)"
    return text if len(text) <= limit else text[:limit] + "..."


def encode_line(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n"


def stray_integer(obj: Any, path: str = "") -> str | None:
    """The path of the first integer JSON number outside ``INTEGER_KEYS`` (numbers are strings)."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if isinstance(value, int) and not isinstance(value, bool) and key not in INTEGER_KEYS:
                return f"{path}.{key}" if path else str(key)
            found = stray_integer(value, f"{path}.{key}" if path else str(key))
            if found:
                return found
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            if isinstance(value, int) and not isinstance(value, bool):
                return f"{path}[{i}]"
            found = stray_integer(value, f"{path}[{i}]")
            if found:
                return found
    return None


class JsonLinesAdapter:
    """An engine in another process, spoken to in ``hedgespec-engine/1``.

    ``cmd`` is the command line (a string, split like a POSIX shell, or an argument list);
    ``timeout`` bounds every request in seconds (the handshake gets ``startup_timeout``).
    The handshake runs on construction and fills ``name`` and ``capabilities``; a failed
    handshake raises ``EngineFailure`` (kind ``handshake``).
    """

    bounds_its_requests = True  # every request has its own timeout: the runner adds no deadline

    def __init__(self, cmd: str | Sequence[str], timeout: float = DEFAULT_TIMEOUT,
                 startup_timeout: float | None = None, cwd: str | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.argv = shlex.split(cmd) if isinstance(cmd, str) else list(cmd)
        if not self.argv:
            raise ValueError("engine command: empty")
        self.timeout = min(timeout, LONGEST_STEP_TIMEOUT)  # the platform's timers have a range
        self.startup_timeout = min(startup_timeout if startup_timeout is not None else max(timeout, 30.0),
                                   LONGEST_STEP_TIMEOUT)
        self.cwd = cwd
        self.env = env
        self.name = "?"
        self.capabilities: frozenset[str] = frozenset()
        self.restarts = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._lines: queue.Queue[str | NotUTF8 | None] = queue.Queue()
        self._stderr: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._next_id = 0
        self._start()

    # -- process management -------------------------------------------------------------

    def _start(self) -> None:
        self._stop()
        self._lines = queue.Queue()
        self._stderr = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._next_id = 0
        try:
            # bytes, decoded line by line: a reply that is not UTF-8 is malformed, never replaced; in a session of
            # its own, so that stopping the engine stops what it started too (a wrapper's child)
            self._proc = subprocess.Popen(
                self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                cwd=self.cwd, env=self.env if self.env is not None else os.environ.copy(), start_new_session=True,
            )
        except OSError as exc:
            raise EngineFailure("handshake", f"cannot start {self.argv[0]!r}: {exc.strerror or exc}") from None
        assert self._proc.stdout is not None and self._proc.stderr is not None
        threading.Thread(target=self._pump, args=(self._proc.stdout, self._lines), daemon=True).start()
        threading.Thread(target=self._pump_stderr, args=(self._proc.stderr, self._stderr), daemon=True).start()
        try:
            result = self._request({"op": "hello", "protocol": PROTOCOL}, self.startup_timeout)
        except EngineFailure as exc:
            self._stop()
            raise EngineFailure("handshake", exc.reason) from None
        if not isinstance(result, dict) or result.get("protocol") != PROTOCOL:
            got = result.get("protocol") if isinstance(result, dict) else result
            self._stop()
            raise EngineFailure("handshake", f"engine speaks {_short_repr(got)}, hedgespec speaks {PROTOCOL!r}")
        if "capabilities" not in result:  # as an in-process adapter without them: never taken as none
            self._stop()
            raise EngineFailure("handshake", "hello result has no capabilities: a list of capability names is "
                                             "required ([] for none)")
        caps = result["capabilities"]
        name = result.get("name")
        if not isinstance(name, str) or not isinstance(caps, list) or not all(isinstance(c, str) for c in caps):
            self._stop()
            raise EngineFailure("handshake", "hello result needs a name (string) and capabilities (list of strings)")
        try:
            self.capabilities = declared_capabilities(caps, "hello: capabilities")
        except ValueError as exc:
            self._stop()
            raise EngineFailure("handshake", str(exc)) from None
        self.name = name

    @staticmethod
    def _pump(stream: IO[bytes], lines: queue.Queue[str | NotUTF8 | None]) -> None:
        try:
            for raw in stream:
                try:
                    lines.put(raw.decode("utf-8"))
                except UnicodeDecodeError as exc:
                    lines.put(NotUTF8(raw[exc.start], exc.start))
        except (OSError, ValueError):
            pass
        lines.put(None)

    @staticmethod
    def _pump_stderr(stream: IO[bytes], tail: collections.deque[str]) -> None:
        try:
            for raw in stream:  # the engine's log: quoted, never parsed; bytes that are not UTF-8 shown as U+FFFD
                tail.append(raw.decode("utf-8", "replace").rstrip("\n"))
        except (OSError, ValueError):
            pass

    def _stop(self) -> None:
        """Kill the process and every process of its session (what a wrapper such as ``sh -c`` started). Its
        stdout and stderr are left to the reader threads, which see end of file."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.stdin:
                proc.stdin.close()
        except OSError:
            pass
        _kill_group(proc)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - kill does not fail on POSIX
            pass

    def stderr_tail(self) -> str:
        return " | ".join(engine_text(line) for line in list(self._stderr)[-3:])

    def _fail(self, kind: str, reason: str) -> EngineFailure:
        tail = self.stderr_tail()
        self._stop()
        return EngineFailure(kind, reason + (f"; stderr: {tail}" if tail else ""))

    # -- requests ---------------------------------------------------------------------------

    def _request(self, payload: dict[str, Any], timeout: float) -> Any:
        proc = self._proc
        if proc is None or proc.stdin is None:
            raise EngineFailure("died", "the engine process is not running (a failure earlier in this case)")
        request_id = self._next_id
        self._next_id += 1
        op = payload["op"]
        try:
            proc.stdin.write(encode_line({"id": request_id, **payload}).encode("utf-8"))
            proc.stdin.flush()
        except (OSError, ValueError):
            code = proc.poll()
            raise self._fail("died", f"{op}: the engine process exited (status {code}) before the request") from None
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise self._fail("timeout", f"{op}: no reply within {timeout:g} s") from None
        if isinstance(line, NotUTF8):
            raise self._fail("malformed", f"{op}: the reply is not UTF-8 (byte 0x{line.byte:02x} at offset "
                                          f"{line.offset} of the line); the protocol is UTF-8")
        if line is None:
            try:
                code = proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                code = None
            raise self._fail("died", f"{op}: the engine process exited (status {code}) without replying")
        if not line.strip():
            raise self._fail("malformed", f"{op}: an empty line where the reply was expected (one reply per line, "
                                          "nothing else on stdout; log to stderr)")
        try:
            reply = decode_line(line)
        except NumberError as exc:
            need = "a whole number is required" if exc.integer else 'numbers are decimal strings (e.g. "0.5")'
            raise self._fail("malformed", f"{op}: {reply_path(exc.path, op)} is the JSON number {exc.text}; "
                                          f"{need}") from None
        except ValueError as exc:  # also a number of more than 4300 digits
            long_number = None if isinstance(exc, json.JSONDecodeError) else too_long_number(line)
            why = long_number[1] if long_number else engine_text(str(exc), 120)
            raise self._fail("malformed", f"{op}: reply is not protocol JSON ({why}): "
                                          f"{line.strip()[:120]!r}") from None
        except RecursionError:
            raise self._fail("malformed", f"{op}: reply is not protocol JSON (nested too deeply): "
                                          f"{line.strip()[:120]!r}") from None
        if lone_surrogate_at(line) is not None:
            try:
                where = lone_surrogate_in(reply)
            except RecursionError:
                raise self._fail("malformed", f"{op}: reply is not protocol JSON (nested too deeply): "
                                              f"{line.strip()[:120]!r}") from None
            if where is not None:  # JSON escapes allow it; as text it cannot be written (UTF-8) or reported
                raise self._fail("malformed", f"{op}: {reply_path(where, op)}: a lone UTF-16 surrogate escape "
                                              "(\\ud800-\\udfff) is not Unicode text")
        if not isinstance(reply, dict) or reply.get("id") != request_id or not isinstance(reply.get("ok"), bool):
            raise self._fail("malformed", f"{op}: expected {{\"id\":{request_id},\"ok\":...}}, got {line.strip()[:120]!r}")
        if not reply["ok"]:
            error = reply.get("error")
            message = error.get("message") if isinstance(error, dict) else error
            raise EngineFailure("raised", f"{op}: engine error: {engine_text(str(message))}")
        if "result" not in reply:
            raise self._fail("malformed", f"{op}: reply has ok true and no result")
        try:
            stray = stray_integer(reply["result"])
        except RecursionError:  # read by json.loads, but too deep to walk from here
            raise self._fail("malformed", f"{op}: reply is not protocol JSON (nested too deeply): "
                                          f"{line.strip()[:120]!r}") from None
        if stray:
            raise self._fail("malformed", f"{op}: {reply_path('result.' + stray, op)} is a JSON number; numbers are "
                                          "decimal strings")
        return reply["result"]

    def _call(self, payload: dict[str, Any], expect: type | None) -> Any:
        result = self._request(payload, self.timeout)
        if expect is not None and not isinstance(result, expect):
            raise self._fail("malformed", f"{payload['op']}: result must be a JSON {expect.__name__}")
        return result

    # -- the adapter protocol ------------------------------------------------------------------

    def reset(self, params: dict[str, Any]) -> None:
        """Start a case; restarts the process first when it failed earlier."""
        if self._proc is None or self._proc.poll() is not None:
            self.restarts += 1
            self._start()
        self._call({"op": "reset", "params": params}, None)

    def apply(self, action: dict[str, Any]) -> dict[str, Any]:
        return self._call({"op": "apply", "action": action}, dict)

    def snapshot(self) -> dict[str, Any]:
        return self._call({"op": "snapshot"}, dict)

    def close(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            try:
                self._request({"op": "close"}, min(self.timeout, 5.0))
            except EngineFailure:
                pass
        self._stop()

    def __enter__(self) -> JsonLinesAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort at garbage collection
        proc = getattr(self, "_proc", None)
        if proc is not None:
            _kill_group(proc)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL to the engine's process group (its own: ``start_new_session``), then to the process itself."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # its children too, even when the process itself has exited
    except OSError:
        pass
    if proc.poll() is None:
        try:
            proc.kill()
        except OSError:
            pass


# -- the engine side: serve an in-process adapter ------------------------------------------------

def serve(adapter: Any, stdin: IO[str] | None = None, stdout: IO[str] | None = None) -> int:
    """Serve ``adapter`` (the in-process protocol) over JSON lines until ``close`` or end of input.

    Adapter exceptions become ``{"ok": false}`` replies; the loop keeps going.
    """
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    for line in stdin:
        if not line.strip():
            continue
        try:
            request = decode_line(line)
        except ValueError as exc:
            stdout.write(encode_line({"id": None, "ok": False, "error": {"message": f"bad request: {exc}"}}))
            stdout.flush()
            continue
        request_id = request.get("id") if isinstance(request, dict) else None
        op = request.get("op") if isinstance(request, dict) else None
        try:
            if op == "hello":
                if request.get("protocol") != PROTOCOL:
                    raise ValueError(f"unsupported protocol {request.get('protocol')!r}")
                result: Any = {"protocol": PROTOCOL, "name": adapter.name,
                               "capabilities": sorted(adapter.capabilities)}
            elif op == "reset":
                result = adapter.reset(request.get("params"))
            elif op == "apply":
                result = adapter.apply(request.get("action"))
            elif op == "snapshot":
                result = adapter.snapshot()
            elif op == "close":
                adapter.close()
                stdout.write(encode_line({"id": request_id, "ok": True, "result": None}))
                stdout.flush()
                return 0
            else:
                raise ValueError(f"unknown op {op!r}")
            reply = {"id": request_id, "ok": True, "result": result}
        except Exception as exc:  # noqa: BLE001 - every engine error is reported, never fatal
            reply = {"id": request_id, "ok": False, "error": {"message": str(wrap_exception(exc, str(op)).reason)}}
        stdout.write(encode_line(reply))
        stdout.flush()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m hedgespec.conformance.jsonl module:factory [profile]``: serve a Python adapter."""
    from .loading import load_factory, make_adapter

    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print("usage: python -m hedgespec.conformance.jsonl module:factory [profile]", file=sys.stderr)
        return 2
    try:
        factory = load_factory(args[0])
        adapter = make_adapter(factory, args[1] if len(args) > 1 else None)
    except Exception as exc:  # noqa: BLE001
        print(f"hedgespec: cannot build the engine: {exc}", file=sys.stderr)
        return 2
    return serve(adapter)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
