"""The committed vector corpus: schema-valid, up to date, accounted for, and flagged when stale."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conform_helpers import small
from hedgespec.conformance import corpus
from hedgespec.conformance import vectors as V
from hedgespec.conformance.adapter import ReferenceAdapter
from hedgespec.conformance.runner import run

ROOT = V.builtin_root()


def test_every_committed_vector_is_schema_valid() -> None:
    files = sorted(ROOT.rglob("*.json"))
    assert len(files) >= 60
    for path in files:
        V.load_vector(path, ROOT)  # raises VectorError naming the file and field


def test_corpus_is_modest() -> None:
    """A few hundred KB per profile (every built-in profile has its own vectors)."""
    for profile_dir in (p for p in ROOT.iterdir() if p.is_dir()):
        assert sum(p.stat().st_size for p in profile_dir.rglob("*.json")) < 300_000, profile_dir.name


def test_regenerating_gives_identical_files() -> None:
    result = corpus.verify(ROOT)
    assert result.ok, "\n".join(result.lines())


def test_changed_rule_text_flags_its_vectors(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "seed", tmp_path / "seed")
    path = tmp_path / "seed" / "scenario" / "fees-no-hedge-discount.json"
    data = json.loads(path.read_text())
    data["rules"]["HM-FEE-001"] = "sha256:0000000000000000"
    path.write_text(V.dump_vector(data))
    result = corpus.verify(tmp_path, ("seed",))
    assert result.stale == {"seed/scenario/fees-no-hedge-discount.json": ["HM-FEE-001"]}
    assert result.changed == ["seed/scenario/fees-no-hedge-discount.json"]
    report = run(lambda: ReferenceAdapter("seed"), small(examples=0, run_vectors=True, vectors=tmp_path / "seed"))
    flagged = [v for v in report["vectors"] if v.get("stale_rules")]
    assert [v["path"] for v in flagged] == ["scenario/fees-no-hedge-discount.json"]


def test_reference_passes_every_vector_of_every_corpus_profile() -> None:
    for profile in corpus.PROFILES:
        report = run(lambda p=profile: ReferenceAdapter(p), small(profile=profile, examples=0, run_vectors=True))
        statuses = {v["path"]: v["status"] for v in report["vectors"]}
        assert statuses and set(statuses.values()) == {"passed"}, statuses


def test_runner_accounts_for_every_vector(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "seed", tmp_path / "v")
    (tmp_path / "v" / "broken.json").write_text('{"format": "hedgespec-vector/1"')
    (tmp_path / "v" / "bad-field.json").write_text('{"format": "hedgespec-vector/2"}')

    class NoExpiry(ReferenceAdapter):
        capabilities = ReferenceAdapter.capabilities - {"expiry"}

    report = run(lambda: NoExpiry("seed"), small(examples=0, run_vectors=True, vectors=tmp_path / "v"))
    on_disk = sorted(p.relative_to(tmp_path / "v").as_posix() for p in (tmp_path / "v").rglob("*.json"))
    assert sorted(v["path"] for v in report["vectors"]) == on_disk
    by_path = {v["path"]: v for v in report["vectors"]}
    assert by_path["broken.json"]["status"] == "failed" and "not valid JSON" in by_path["broken.json"]["reason"]
    assert by_path["bad-field.json"]["reason"].startswith("invalid vector: bad-field.json")
    expiry = by_path["scenario/expiry-per-leg.json"]
    assert expiry["status"] == "unsupported" and expiry["reason"] == "engine lacks expiry"
    assert report["summary"]["vectors"]["total"] == len(on_disk)


def test_unreadable_vectors_are_reported_with_their_place(tmp_path: Path) -> None:
    """Deep nesting, a 5,000-digit number and a repeated key fail their vector by file:line, never the run."""
    vdir = tmp_path / "v"
    vdir.mkdir()
    text = (ROOT / "seed" / "scenario" / "adjust-margin.json").read_text()
    (vdir / "deep.json").write_text('{"a":' * 100_000 + "1" + "}" * 100_000)
    (vdir / "digits.json").write_text(text.replace('"format"', '"x": ' + "7" * 5000 + ', "format"', 1))
    (vdir / "twice.json").write_text(text.replace('"format"', '"title": "t", "format"', 1))
    report = run(lambda: ReferenceAdapter("seed"), small(examples=0, run_vectors=True, vectors=vdir))
    reasons = {v["path"]: (v["status"], v["reason"]) for v in report["vectors"]}
    assert reasons == {
        "deep.json": ("failed", "invalid vector: deep.json: not valid JSON: nested too deeply"),
        "digits.json": ("failed", "invalid vector: digits.json:2:8: not valid JSON: a number of 5000 digits (at most 4300)"),
        "twice.json": ("failed", "invalid vector: twice.json: not valid JSON: key 'title' appears twice in one object"),
    }


def test_a_vector_file_name_that_is_not_utf8_is_reported_as_text(tmp_path: Path) -> None:
    import os

    from hedgespec.conformance import report as R

    vdir = tmp_path / os.fsdecode(b"v\xff")
    vdir.mkdir()
    shutil.copy(ROOT / "seed" / "scenario" / "adjust-margin.json", vdir / os.fsdecode(b"\xfe.json"))
    report = run(lambda: ReferenceAdapter("seed"), small(examples=0, run_vectors=True, vectors=vdir))
    assert [(v["path"], v["status"]) for v in report["vectors"]] == [("\ufffd.json", "passed")]
    assert report["provenance"]["vectors"] == "v\ufffd"
    for text in (R.to_json(report), R.to_text(report), R.to_junit(report), R.to_markdown(report)):
        text.encode("utf-8")  # once a UnicodeEncodeError writing --json, --junit or --markdown


def test_verify_flags_a_vector_that_is_not_utf8(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "seed", tmp_path / "seed")
    path = tmp_path / "seed" / "scenario" / "adjust-margin.json"
    path.write_bytes(path.read_bytes().replace(b'"title"', b'"ti\xf5tle"', 1))
    result = corpus.verify(tmp_path, ("seed",))
    assert result.changed == ["seed/scenario/adjust-margin.json"]
    assert [p for p, _ in result.invalid] == ["seed/scenario/adjust-margin.json"]
    assert "cannot read" in result.invalid[0][1]


def test_a_wrong_outcome_fails_the_vector_and_its_rules(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "seed" / "scenario", tmp_path / "v")

    class SameModeRejected(ReferenceAdapter):
        def apply(self, action):  # type: ignore[no-untyped-def]
            outcome = super().apply(action)
            if outcome["kind"] == "unchanged":
                outcome = {**outcome, "kind": "rejected", "reason": "MODE_IN_FORCE"}
            return outcome

    report = run(lambda: SameModeRejected("seed"), small(examples=0, run_vectors=True, vectors=tmp_path / "v"))
    vec = next(v for v in report["vectors"] if v["path"] == "mode-same.json")
    assert vec["status"] == "failed" and vec["step"] == 1  # numbered from 1
    assert "outcome.kind: expected 'unchanged', got 'rejected'" in vec["reason"]
    assert "HM-MODE-004" in vec["failed_rules"]
    assert {r["id"]: r["verdict"] for r in report["rules"]}["HM-MODE-004"] == "fail"


def test_patterns_and_subset_matching() -> None:
    expected = {"accounts": {"a": {"wallet": {"$pattern": r"99\d\d(\.\d+)?"}, "positions": {
        "X": {"LONG": {"quantity": "1", "margin_type": {"$any": True}}}}}}}
    snap = {"accounts": {"a": {"wallet": "9950.5", "position_mode": {}, "open_orders": {}, "positions": {
        "X": {"LONG": {"quantity": "1", "margin_type": "CROSS"},
              "SHORT": {f: "0" for f in ("quantity", "cost_basis", "isolated_margin", "realized_pnl",
                                         "fees_paid", "funding")}}}}}}
    assert V.match_state(expected, snap) == []
    snap["accounts"]["a"]["positions"]["X"]["SHORT"]["quantity"] = "-1"
    assert V.match_state(expected, snap) == ["accounts.a.positions.X.SHORT: expected a flat leg, got quantity '-1'"]
    snap["accounts"]["a"]["wallet"] = "100"
    assert "accounts.a.wallet: expected /" in V.match_state(expected, snap)[0]


@pytest.mark.parametrize("profile", corpus.PROFILES)
def test_scenarios_claim_registered_rules(profile: str) -> None:
    from hedgespec.conformance.rulebook import load_rulebook

    known = {r.id for r in load_rulebook().rules}
    for path in sorted((ROOT / profile / "scenario").glob("*.json")):
        data = json.loads(path.read_text())
        assert data["rules"] and set(data["rules"]) <= known, path.name
