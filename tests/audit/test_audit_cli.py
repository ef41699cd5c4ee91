"""The commands through ``register`` and through the project's own CLI: formats and exit statuses."""

from __future__ import annotations

import json
from pathlib import Path

from audit_helpers import fill, lines_of, meta, opening, run


def _write(tmp_path: Path, records: list[dict], extra: bytes = b"") -> Path:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"".join(lines_of(records)) + extra)
    return path


def test_exit_statuses(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    clean = [meta(), opening(), fill(1, "1", "BUY", "LONG", "1", "100")]
    assert run(["audit", str(_write(tmp_path, clean))]) == 0
    assert run(["audit", str(_write(tmp_path, clean + [fill(2, "2", "BUY", "SHORT", "1", "100", pnl="4")]))]) == 1
    assert run(["audit", str(_write(tmp_path, clean, b"{oops\n"))]) == 2
    assert run(["audit", str(tmp_path / "missing.jsonl")]) == 2
    assert run(["audit", str(_write(tmp_path, clean)), "--profile", "no-such-profile"]) == 2
    err = capsys.readouterr().err
    assert "missing.jsonl: no such file" in err and "no-such-profile" in err
    # a trace where no rule could decide anything (an empty file, or only the header) is not clean
    for records in ([], [meta()], [meta(), opening()]):
        assert run(["audit", str(_write(tmp_path, records))]) == 2
        assert "nothing could be decided" in capsys.readouterr().err


def test_json_report_has_provenance_and_reconciles(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    path = _write(tmp_path, [meta(), opening(), fill(1, "1", "BUY", "LONG", "1", "100")], b"[1]\n")
    assert run(["audit", str(path), "--json", "--profile", "seed"]) == 2
    report = json.loads(capsys.readouterr().out)
    p = report["provenance"]
    assert p["profile"] == "seed" and p["profile_digest"].startswith("sha256:")
    assert p["spec_version"] and p["hedgespec_version"] and len(p["trace_sha256"]) == 64
    s = report["summary"]
    assert s["records_read"] == s["records_checked"] + s["records_rejected"] == 4
    assert report["rejected"][0]["message"].startswith("t.jsonl:4:")


def test_report_to_file_and_markdown(tmp_path: Path) -> None:
    path = _write(tmp_path, [meta(), opening(), fill(1, "1", "BUY", "LONG", "1", "100", pnl="1")])
    out = tmp_path / "report.md"
    assert run(["audit", str(path), "--markdown", "-o", str(out)]) == 1
    text = out.read_text()
    assert text.startswith("# hedgespec audit report") and "| HM-NET-001 |" in text


def test_project_cli_has_the_commands(tmp_path: Path) -> None:
    from hedgespec.cli import main

    path = _write(tmp_path, [meta(), opening(), fill(1, "1", "BUY", "LONG", "1", "100")])
    assert main(["audit", str(path), "--json", "-o", str(tmp_path / "r.json")]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["verdict"] == "clean"
