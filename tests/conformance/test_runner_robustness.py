"""The runner against bad input and hostile engines: a clear failure naming the place, never a traceback,
never a silent pass, never a process left behind."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conform_helpers import small
from hedgespec.conformance import report as R
from hedgespec.conformance import vectors as V
from hedgespec.conformance.adapter import ReferenceAdapter
from hedgespec.conformance.cli import main as cli_main
from hedgespec.conformance.failures import LONGEST_STEP_TIMEOUT, EngineFailure
from hedgespec.conformance.jsonl import JsonLinesAdapter
from hedgespec.conformance.runner import run
from hedgespec.conformance.world import default_params

SEED_VECTOR = V.builtin_root() / "seed" / "scenario" / "adjust-margin.json"


# -- 1. an invalid vector never lets the run pass ----------------------------------------------------

@pytest.mark.parametrize("text", ["{", "{}", '{"steps": null}'])
def test_an_invalid_vector_fails_the_run(tmp_path: Path, text: str) -> None:
    vdir = tmp_path / "v"
    vdir.mkdir()
    (vdir / "x.json").write_text(text)
    report = run(lambda: ReferenceAdapter("seed"), small(examples=0, run_vectors=True, vectors=vdir))
    assert report["vectors"][0]["status"] == "failed"
    assert report["summary"]["verdict"] == "FAIL" and report["summary"]["exit_status"] == 1
    assert report["summary"]["vectors"]["invalid"] == 1
    assert R.verdict_line(report).startswith("verdict: FAIL (1 invalid vector)")


def test_an_invalid_vector_exits_1_on_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "x.json").write_text("{")
    assert cli_main(["conform", "--vectors", "v", "--examples", "0"]) == 1
    out = capsys.readouterr().out
    assert "failed x.json: invalid vector: x.json" in out and out.splitlines()[-1].startswith("verdict: FAIL")


# -- 2. a vector's $pattern: checked when loaded, matching bounded ---------------------------------------

def _vector_with_wallet_pattern(vdir: Path, pattern: str) -> None:
    data = json.loads(SEED_VECTOR.read_text())
    data["steps"][0]["state"]["accounts"]["alice"]["wallet"] = {"$pattern": pattern}
    vdir.mkdir(exist_ok=True)
    (vdir / "x.json").write_text(json.dumps(data))


@pytest.mark.parametrize(("pattern", "why"), [
    ("(", "not a valid regular expression"),
    ("(([0-9.]+)+)+x", "nested quantifiers"),
    (r"(a)\1", "back-references"),
    (r"\d*\d*\d*\d*\d*x", "too many ways to match"),
])
def test_an_unusable_pattern_makes_the_vector_invalid_naming_its_place(tmp_path: Path, pattern: str,
                                                                       why: str) -> None:
    _vector_with_wallet_pattern(tmp_path / "v", pattern)
    with pytest.raises(V.VectorError) as err:
        V.load_vector(tmp_path / "v" / "x.json", tmp_path / "v")
    assert str(err.value).startswith(f"x.json: steps[0].state.accounts.alice.wallet: $pattern {pattern!r}: ")
    assert why in str(err.value)
    started = time.monotonic()
    report = run(lambda: ReferenceAdapter("seed"), small(examples=0, run_vectors=True, vectors=tmp_path / "v"))
    assert time.monotonic() - started < 30
    assert report["vectors"][0]["reason"].startswith("invalid vector: x.json: steps[0].state.accounts.alice.wallet")
    assert report["summary"]["verdict"] == "FAIL"


def test_a_usable_pattern_still_matches(tmp_path: Path) -> None:
    _vector_with_wallet_pattern(tmp_path / "v", r"98\d\d(\.\d+)?")
    report = run(lambda: ReferenceAdapter("seed"), small(examples=0, run_vectors=True, vectors=tmp_path / "v"))
    assert report["vectors"][0]["status"] == "passed", report["vectors"][0]


def test_matching_is_bounded_even_for_a_pattern_never_loaded() -> None:
    """``diff`` on data built in memory: an unusable pattern and a long value are differences, never a crash
    or a hang."""
    from hedgespec.conformance.world import diff

    assert "cannot be used: not a valid regular expression" in diff({"w": {"$pattern": "("}}, {"w": "1"})[0]
    started = time.monotonic()
    assert "nested quantifiers" in diff({"w": {"$pattern": "(([0-9.]+)+)+x"}}, {"w": "1" * 5000})[0]
    assert "(5000 characters: a pattern matches at most 100)" in diff({"w": {"$pattern": "1*"}}, {"w": "1" * 5000})[0]
    assert time.monotonic() - started < 5


# -- 3. an engine exception or reply that cannot be read ----------------------------------------------

class Unreadable(Exception):
    def __str__(self) -> str:
        return self.detail  # type: ignore[attr-defined, no-any-return]  # never set: str() raises


class NotText(Exception):
    def __str__(self) -> Any:
        return 42


class NoAttr(Exception):
    """One whose ``__str__`` raises an exception that cannot be read either."""

    def __str__(self) -> str:
        raise Unreadable


@pytest.mark.parametrize("error", [Unreadable, NotText, NoAttr])
def test_an_exception_whose_message_cannot_be_read_is_raised_by_its_type(error: type[Exception]) -> None:
    class Broken(ReferenceAdapter):
        def apply(self, action: dict[str, Any]) -> dict[str, Any]:
            raise error()

    report = run(lambda: Broken("seed"), small(examples=1))
    failure = report["engine_failures"][0]["engine_failure"]
    assert failure == {"kind": "raised", "reason": f"apply: {error.__name__}"}
    assert report["summary"]["verdict"] == "FAIL"
    R.to_text(report)


def test_a_factory_or_name_raising_an_unreadable_exception_is_a_start_failure() -> None:
    def factory() -> Any:
        raise Unreadable()

    class BadName(ReferenceAdapter):
        @property
        def name(self) -> str:  # type: ignore[override]
            raise NotText()

    for build, op in ((factory, "start"), (lambda: BadName("seed"), "name and capabilities")):
        report = run(build, small(examples=1))
        failure = report["engine_failures"][0]["engine_failure"]
        assert failure["kind"] == "start" and failure["reason"].endswith(f"{op}: {'Unreadable' if op == 'start' else 'NotText'}")
        assert R.verdict_line(report).startswith("verdict: FAIL (the engine could not be started")


class Hostile(dict):  # type: ignore[type-arg]
    def __eq__(self, other: object) -> bool:
        raise Unreadable()

    __hash__ = None  # type: ignore[assignment]

    def items(self) -> Any:
        raise NotText()


@pytest.mark.parametrize("op", ["apply", "snapshot"])
def test_a_reply_that_cannot_be_inspected_is_malformed(op: str) -> None:
    class Broken(ReferenceAdapter):
        def apply(self, action: dict[str, Any]) -> dict[str, Any]:
            outcome = super().apply(action)
            return Hostile(outcome) if op == "apply" else outcome

        def snapshot(self) -> dict[str, Any]:
            snap = super().snapshot()
            return Hostile(snap) if op == "snapshot" else snap

    report = run(lambda: Broken("seed"), small(examples=1))
    failure = report["engine_failures"][0]["engine_failure"]
    root = "outcome" if op == "apply" else "snapshot"
    assert failure["kind"] == "malformed"
    assert failure["reason"].startswith(f"{op}: the {root} cannot be inspected: reading it raised "), failure
    R.to_text(report)


# -- 4. --timeout: a float that is not finite is refused; a long one is the longest the timers take ----------

SERVE_REFERENCE = [sys.executable, "-m", "hedgespec.conformance.jsonl", "hedgespec.conformance.adapter:ReferenceAdapter",
                   "seed"]


def test_a_timeout_that_overflows_a_float_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["conform", "--examples", "1", "--timeout", "1e309"])
    assert exit_info.value.code == 2
    assert "--timeout: must be a finite number of seconds" in capsys.readouterr().err


def test_a_json_lines_engine_takes_a_very_long_timeout() -> None:
    with JsonLinesAdapter(SERVE_REFERENCE, timeout=1e10) as adapter:
        assert adapter.timeout == LONGEST_STEP_TIMEOUT
        adapter.reset(json.loads(json.dumps(default_params("seed"))))
        assert adapter.snapshot()["accounts"]


# -- 5-8. JSON-lines replies: repeated keys, bytes that are not UTF-8, a hello without capabilities, a wrapper ----

HELLO = (b'{"id":{id},"ok":true,"result":{"protocol":"hedgespec-engine/1","name":"scripted",'
         b'"capabilities":["hedge-mode"]}}')
ENGINE = '''
import json, os, sys, time
HELLO, APPLY, HANG, PIDFILE = {hello!r}, {apply!r}, {hang!r}, {pidfile!r}
if PIDFILE:
    with open(PIDFILE, "w") as f:
        f.write(str(os.getpid()))
out = sys.stdout.buffer
for line in sys.stdin.buffer:
    request = json.loads(line)
    rid, op = request["id"], request["op"]
    if op == "reset" and HANG:
        time.sleep(3600)
    raw = {{"hello": HELLO, "apply": APPLY}}.get(op, b'{{"id":{{id}},"ok":true,"result":null}}')
    out.write(raw.replace(b"{{id}}", str(rid).encode()) + b"\\n")
    out.flush()
    if op == "close":
        break
'''


def scripted_engine(tmp_path: Path, hello: bytes = HELLO, apply: bytes = b"", hang: bool = False,
                    pidfile: str = "") -> list[str]:
    script = tmp_path / "engine.py"
    script.write_text(ENGINE.format(hello=hello, apply=apply, hang=hang, pidfile=pidfile))
    return [sys.executable, str(script)]


def apply_failure(tmp_path: Path, apply: bytes) -> EngineFailure:
    """The failure of the first apply to an engine that replies ``apply`` (after a reset)."""
    with JsonLinesAdapter(scripted_engine(tmp_path, apply=apply), timeout=5.0) as adapter:
        adapter.reset({})
        with pytest.raises(EngineFailure) as err:
            adapter.apply({})
    return err.value


def handshake_failure(tmp_path: Path, hello: bytes) -> EngineFailure:
    """The failure of starting an engine that greets with ``hello``."""
    with pytest.raises(EngineFailure) as err:
        JsonLinesAdapter(scripted_engine(tmp_path, hello=hello), timeout=5.0)
    return err.value


def test_a_repeated_key_in_a_reply_is_malformed_naming_it(tmp_path: Path) -> None:
    apply = b'{"id":{id},"ok":true,"result":{"kind":"bogus","kind":"accepted","reason":null,"events":[]}}'
    failure = apply_failure(tmp_path, apply)
    assert failure.kind == "malformed" and "key 'kind' appears twice in one object" in failure.reason


def test_a_repeated_key_in_the_hello_fails_the_handshake_naming_it(tmp_path: Path) -> None:
    failure = handshake_failure(tmp_path, HELLO.replace(b'"name":"scripted"', b'"name":"a","name":"scripted"'))
    assert failure.kind == "handshake" and "key 'name' appears twice in one object" in failure.reason


def test_a_reply_that_is_not_utf8_is_malformed(tmp_path: Path) -> None:
    apply = b'{"id":{id},"ok":true,"result":{"kind":"accepted","reason":null,"message":"\xff","events":[]}}'
    failure = apply_failure(tmp_path, apply)
    assert failure.kind == "malformed" and "not UTF-8 (byte 0xff" in failure.reason
    failure = handshake_failure(tmp_path, HELLO.replace(b"scripted", b"scr\xe9pted"))
    assert failure.kind == "handshake" and "not UTF-8 (byte 0xe9" in failure.reason


def test_a_hello_without_capabilities_fails_the_handshake(tmp_path: Path) -> None:
    hello = HELLO.replace(b',"capabilities":["hedge-mode"]', b"")
    failure = handshake_failure(tmp_path, hello)
    assert failure.kind == "handshake" and "no capabilities" in failure.reason
    report = run(lambda: JsonLinesAdapter(scripted_engine(tmp_path, hello=hello), timeout=5.0), small(examples=1))
    assert report["engine_failures"][0]["engine_failure"]["kind"] == "start"


def _alive(pid: int) -> bool:
    """Whether the process runs (a zombie, killed and not reaped yet, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="process groups are POSIX")
def test_a_hung_engine_behind_a_wrapper_is_killed_with_it(tmp_path: Path) -> None:
    pidfile = tmp_path / "engine.pid"
    inner = " ".join(scripted_engine(tmp_path, hang=True, pidfile=str(pidfile)))
    cmd = ["sh", "-c", f"{inner}; true"]  # the engine is the wrapper's child, not hedgespec's
    report = run(lambda: JsonLinesAdapter(cmd, timeout=1.0), small(examples=1, max_engine_failures=1))
    assert report["engine_failures"][0]["engine_failure"]["kind"] == "timeout"
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid), "the engine the wrapper started still runs"


# -- 9. names and messages from an engine or a file never forge a line of the report ----------------------

def test_an_engine_name_is_escaped_and_capped_in_every_rendering() -> None:
    forged = "p\nverdict: PASS\x1b[2J"

    class Named(ReferenceAdapter):
        name = forged + "x" * 5_000_000

    report = run(lambda: Named("seed"), small(examples=1))
    text = R.to_text(report)
    assert not any(line.startswith("verdict: PASS") for line in text.splitlines()[:-1])
    assert "\x1b" not in text and "p\\nverdict: PASS\\x1b[2J" in text
    assert len(text) < 200_000 and f"({len(Named.name)} characters in all)" in text
    markdown = R.to_markdown(report)
    assert "\x1b" not in markdown and "\nverdict: PASS" not in markdown and len(markdown) < 200_000
    import xml.etree.ElementTree as ET

    junit = R.to_junit(report)
    assert "\x1b" not in junit and len(junit) < 200_000
    ET.fromstring(junit)  # still XML


def test_a_profile_name_and_an_engine_message_are_escaped(tmp_path: Path) -> None:
    class Raising(ReferenceAdapter):
        def apply(self, action: dict[str, Any]) -> dict[str, Any]:
            raise ValueError("boom\x1b[31m red\rverdict: PASS")

    report = run(lambda: Raising("seed"), small(examples=1))
    report["provenance"]["profile"]["name"] = "p\nverdict: PASS"  # as a profile file may name itself
    report["notes"].append("profile p\nverdict: PASS is not built in")
    text = R.to_text(report)
    lines = text.splitlines()
    assert lines[-1].startswith("verdict: FAIL")
    assert not any(line.startswith("verdict: PASS") for line in lines) and "\x1b" not in text and "\r" not in text
