"""``hedgespec conform`` and ``hedgespec vectors`` on the command line: reports, exit status, bad input."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conform_helpers import engine_cmd
from hedgespec.conformance.cli import main

QUICK = ["--examples", "3", "--steps", "10"]


def test_conform_reference_writes_every_report(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    status = main(["conform", *QUICK, "--json", "r.json", "--junit", "r.xml", "--markdown", "r.md"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "verdict: PASS" in out and "hedgespec-reference" in out
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["summary"]["vectors"]["passed"] == report["summary"]["vectors"]["total"] > 0
    assert report["provenance"]["vectors"] == "built-in:seed"
    assert (tmp_path / "r.xml").read_text().startswith('<?xml version="1.0"')
    assert "| HM-NET-001 | MUST | pass |" in (tmp_path / "r.md").read_text()


def test_conform_mutant_fails_and_writes_the_example(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    module = tmp_path / "my_engine.py"
    module.write_text("from hedgespec.conformance.mutants import MUTANT_BY_NAME\n\n"
                      "def make(profile):\n    return MUTANT_BY_NAME['fee-hedge-discount'].adapter(profile)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    status = main(["conform", "--engine", "my_engine:make", "--no-vectors", "--steps", "30", "--examples", "8",
                   "--json", "r.json"])
    out = capsys.readouterr().out
    assert status == 1
    assert "HM-FEE-001" in out and "verdict: FAIL" in out
    examples = sorted((tmp_path / "hedgespec-failures").glob("*.json"))
    assert examples and examples[0].name.endswith("HM-FEE-001.json")
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["provenance"]["adapter"]["engine"] == "my_engine:make"
    # the expected-failures file turns the known gap into a tracked one
    (tmp_path / "xfail.txt").write_text("# known gaps\nHM-FEE-001 hedge discount until v2\nHM-POS-004\n"
                                        "HM-LEDG-001\nHM-LIQ-003\n")
    status = main(["conform", "--engine", "my_engine:make", "--no-vectors", "--steps", "30", "--examples", "8",
                   "--expected-failures", "xfail.txt"])
    assert "fail (xfail)" in capsys.readouterr().out


def test_conform_over_json_lines(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cmd = " ".join(engine_cmd("raising_engine.py"))
    status = main(["conform", "--engine-cmd", cmd, "--no-vectors", *QUICK, "--timeout", "2"])
    out = capsys.readouterr().out
    assert status == 1
    assert "engine failure" in out and "order book corrupted" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["conform", "--engine", "nope"], "expected module:factory"),
    (["conform", "--engine", "no_such_module_xyz:f"], "cannot import"),
    (["conform", "--engine", "json:nothing_here"], "has no attribute"),
    (["conform", "--profile", "no-such-venue"], "not a built-in profile"),
    (["conform", "--vectors", "/definitely/not/here"], "not a directory"),
    (["conform", "--expected-failures", "/definitely/not/here.txt"], "no such file"),
    (["conform", "--json", "/definitely/not/here/r.json"], "directory does not exist"),
    (["conform", "--markdown", "/"], "--markdown: /: is a directory (give a file name)"),
    # once found out only when the run wrote its first failing case, after the whole run, without the report
    (["conform", "--failures-dir", "/dev/null"], "--failures-dir: /dev/null: not a directory"),
    (["conform", "--failures-dir", "/dev/null/sub"], "--failures-dir: /dev/null/sub: /dev/null is not a directory"),
    (["conform", "--failures-dir", "x" * 5000], ": File name too long"),
    (["conform", "--engine-cmd", "  "], "empty command"),
    (["conform", "--engine-cmd", 'node "engine.js'], "No closing quotation"),
    (["vectors"], "an action is required"),
    (["vectors", "verify", "--profile", "nope"], "not a built-in profile"),
])
def test_bad_input_is_one_line_and_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(argv)
    err = capsys.readouterr().err
    assert status == 2
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv", [["conform", "--examples", "-1"], ["conform", "--timeout", "0"],
                                  ["conform", "--engine", "a:b", "--engine-cmd", "x"], ["conform", "--fail-on", "X"]])
def test_argparse_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_bad_expected_failures_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "x.txt"
    bad.write_text("not-a-rule because\n")
    assert main(["conform", "--expected-failures", str(bad)]) == 2
    assert "x.txt:1: expected a rule ID" in capsys.readouterr().err


@pytest.mark.parametrize(("text", "message"), [
    ("HM-FUND-001 later\n# note\nHM-FUND-001 never\n", "x.json:3: HM-FUND-001 is listed twice (first at line 1)"),
    ('{"HM-FUND-001": "later",\n "HM-FUND-001": "never"}', "x.json: not valid JSON: key 'HM-FUND-001' appears twice in one object"),
    ('{"HM-FUND-001":\n ' + "1" * 5000 + "}", "x.json:2:2: not valid JSON: a number of 5000 digits (at most 4300)"),
    ("{" + '"a":{' * 100_000 + "}" * 100_001, "x.json: not valid JSON: nested too deeply"),
])
def test_unreadable_expected_failures_json(text: str, message: str, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "x.json"
    bad.write_text(text)
    assert main(["conform", "--expected-failures", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err == f"hedgespec conform: {tmp_path / message}\n"


def test_vectors_export_and_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["vectors", "export", str(tmp_path / "v"), "--profile", "seed"]) == 0
    assert main(["vectors", "verify", str(tmp_path / "v"), "--profile", "seed"]) == 0
    assert "up to date" in capsys.readouterr().out
    victim = next((tmp_path / "v").rglob("*.json"))
    victim.write_text(victim.read_text().replace('"reason":null', '"reason":"MODE_IN_FORCE"', 1))
    assert main(["vectors", "verify", str(tmp_path / "v"), "--profile", "seed"]) == 1
    assert "changed:" in capsys.readouterr().out


def test_hedgespec_cli_registers_the_commands() -> None:
    import subprocess

    result = subprocess.run([sys.executable, "-m", "hedgespec.cli", "conform", "--help"], capture_output=True,
                            text=True, check=False)
    if "invalid choice" in result.stderr:
        pytest.skip("hedgespec.cli does not register the conformance commands yet")
    assert result.returncode == 0 and "--engine-cmd" in result.stdout


def test_conform_with_a_profile_file(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my-venue.json").write_text(json.dumps({
        "profile_format": "1", "name": "my-venue", "extends": "seed",
        "choices": {"oversized_close": {"value": "trim", "status": "modelled", "source": "my venue docs"}}}))
    status = main(["conform", "--profile", "my-venue.json", *QUICK, "--json", "r.json"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "profile my-venue is not built in: its vectors were made from the reference model" in out
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["provenance"]["profile"]["name"] == "my-venue"
    assert report["vectors"] and {v["status"] for v in report["vectors"]} == {"passed"}
