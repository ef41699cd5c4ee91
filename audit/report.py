"""Audit reports: terminal text, JSON and Markdown. Deterministic: no wall-clock, sorted keys.

The JSON report's ``report_format`` is 3: ``verdict`` is ``"findings"``, ``"clean"`` (no findings, at
least one check decided and no record rejected, except identical copies of records already read),
``"incomplete"`` (no findings, but records were rejected: the audit did not see the whole trace) or
``"nothing decided"`` (no rule could decide anything: an empty or unusable trace is never clean). Format 2
said ``"clean"`` where format 3 says ``"incomplete"``; format 1 had only ``"findings"`` and ``"clean"``.
"""

from __future__ import annotations

import json
from typing import Any

from .engine import IDENTICAL_DUPLICATE, AuditResult

REPORT_FORMAT = 3
NOTHING_DECIDED = "nothing decided"
INCOMPLETE = "incomplete"


def verdict(result: AuditResult) -> str:
    """``findings``; ``nothing decided`` when no check was decided (an empty export); ``incomplete`` when
    nothing was found but records were rejected (other than identical copies of records already read); else
    ``clean``."""
    if result.finding_count:
        return "findings"
    if not result.decided_by_rule:
        return NOTHING_DECIDED
    return INCOMPLETE if incomplete_rejections(result) else "clean"


def incomplete_rejections(result: AuditResult) -> int:
    """Rejected records whose data the audit did not see: all but identical copies of a record already read."""
    summary = result.summary
    return summary["records_rejected"] - summary["rejected_by_reason"].get(IDENTICAL_DUPLICATE, 0)


def _verdict_words(result: AuditResult) -> str:
    outcome = verdict(result)
    if outcome == "findings":
        return f"{result.finding_count} finding(s)"
    if outcome == NOTHING_DECIDED:
        return "NOTHING DECIDED (no rule could check anything in this trace: not a clean result)"
    if outcome == INCOMPLETE:
        return (f"INCOMPLETE: no findings in the records read, but {incomplete_rejections(result)} record(s) "
                "were rejected (not a clean result)")
    return "no findings"


def as_json(result: AuditResult) -> dict[str, Any]:
    return {
        "report_format": REPORT_FORMAT,
        "verdict": verdict(result),
        "provenance": result.provenance,
        "summary": result.summary,
        "findings_by_rule": result.findings_by_rule,
        "decided_by_rule": result.decided_by_rule,
        "findings": [f.as_json() for f in result.findings],
        "not_decidable": [u.as_json() for u in result.undecided],
        "rejected": [{"line": r.line, "reason": r.reason, "message": r.message} for r in result.rejections],
        "legs_at_end": result.legs,
        "importer_notes": result.notes,
    }


def render_json(result: AuditResult) -> str:
    return json.dumps(as_json(result), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _evidence(ev: dict[str, Any]) -> str:
    text = ev["trace"]
    if "source" in ev:
        text += f" <- {ev['source']} id {ev['record_id']}"
    return text


def _provenance_lines(p: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [
        ("hedgespec", str(p["hedgespec_version"])),
        ("spec", str(p["spec_version"])),
        ("trace format", f"v{p['trace_format']}"),
        ("profile", f"{p['profile']} ({p['profile_digest']})"),
        ("venue", "not declared (the trace has no meta record)" if p.get("venue") is None else str(p["venue"])),
        ("trace", f"{p['trace']} sha256:{p['trace_sha256']}"),
    ]
    for item in p.get("inputs", []):
        rows.append(("input", f"{item['file']} sha256:{item['sha256']}" + (f" ({item['role']})" if "role" in item
                                                                           else "")))
    rows.append(("tolerances", ", ".join(f"{k} {v}" for k, v in p["tolerances"].items())))
    rows.append(("windows", ", ".join(f"{k} {v}" for k, v in p["windows"].items())))
    return rows


def _summary_line(s: dict[str, Any]) -> str:
    reasons = ", ".join(f"{k}: {v}" for k, v in s["rejected_by_reason"].items()) or "none"
    return (f"records read {s['records_read']} = checked {s['records_checked']} + rejected "
            f"{s['records_rejected']} ({reasons})" + ("" if s["reconciles"] else "  ** DOES NOT RECONCILE **"))


def render_text(result: AuditResult) -> str:
    s = result.summary
    out = ["hedgespec audit", ""]
    out += [f"  {k:<13} {v}" for k, v in _provenance_lines(result.provenance)]
    out += ["", _summary_line(s), ""]
    out.append(f"VERDICT: {_verdict_words(result)}; {s['not_decidable']} check(s) not decidable from this data")
    if result.findings_by_rule:
        out.append("  by rule: " + ", ".join(f"{k} {v}" for k, v in result.findings_by_rule.items()))
    out.append("  decided: " + (", ".join(f"{k} {v}" for k, v in result.decided_by_rule.items()) or "nothing"))
    if result.findings:
        out += ["", "FINDINGS"]
        for f in result.findings:
            code = f" [venue code {f.venue_code}]" if f.venue_code else ""
            out.append(f"- {f.rule_id}{code} t={f.t}: {f.message}")
            for ev in f.evidence:
                out.append(f"    at {_evidence(ev)}")
        if s["findings"] > s["findings_listed"]:
            out.append(f"  ... {s['findings'] - s['findings_listed']} more finding(s) counted above, not listed")
    if result.undecided:
        out += ["", "NOT DECIDABLE FROM THIS DATA"]
        for u in result.undecided:
            out.append(f"- {u.rule_id} x{u.count}: {u.reason}; needs {u.needs}")
            for ev in u.examples:
                out.append(f"    e.g. {_evidence(ev)}")
    if result.rejections:
        out += ["", "REJECTED RECORDS"]
        out += [f"- {r.message}" for r in result.rejections]
        if s["records_rejected"] > s["rejections_listed"]:
            out.append(f"  ... {s['records_rejected'] - s['rejections_listed']} more, counted above")
    if result.notes:
        out += ["", "IMPORTER NOTES"]
        out += [f"- {n['what']}: {n['count']}" + (f" ({n['detail']})" if n.get("detail") else "")
                for n in result.notes]
    return "\n".join(out) + "\n"


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(result: AuditResult) -> str:
    s = result.summary
    words = f"**{_verdict_words(result)}**"
    out = ["# hedgespec audit report", "", "## Provenance", "", "| | |", "|---|---|"]
    out += [f"| {k} | `{_md_escape(v)}` |" for k, v in _provenance_lines(result.provenance)]
    out += ["", "## Summary", "", _summary_line(s), "",
            f"Verdict: {words}; {s['not_decidable']} check(s) not decidable from this data.", "",
            "| rule | decided | findings |", "|---|---|---|"]
    rules = sorted(set(result.decided_by_rule) | set(result.findings_by_rule))
    out += [f"| {r} | {result.decided_by_rule.get(r, 0)} | {result.findings_by_rule.get(r, 0)} |" for r in rules]
    if result.findings:
        out += ["", "## Findings", "", "| rule | t | finding | evidence | venue code |", "|---|---|---|---|---|"]
        for f in result.findings:
            ev = "<br>".join(_md_escape(_evidence(e)) for e in f.evidence)
            out.append(f"| {f.rule_id} | {f.t} | {_md_escape(f.message)} | {ev} | {f.venue_code or ''} |")
        if s["findings"] > s["findings_listed"]:
            out.append(f"\n{s['findings'] - s['findings_listed']} more finding(s) are counted but not listed.")
    if result.undecided:
        out += ["", "## Not decidable from this data", "", "| rule | count | why | what would decide it |",
                "|---|---|---|---|"]
        out += [f"| {u.rule_id} | {u.count} | {_md_escape(u.reason)} | {_md_escape(u.needs)} |"
                for u in result.undecided]
    if result.rejections:
        out += ["", "## Rejected records", ""]
        out += [f"- `{_md_escape(r.message)}`" for r in result.rejections]
    if result.notes:
        out += ["", "## Importer notes", ""]
        out += [f"- {n['what']}: {n['count']}" + (f" ({_md_escape(n['detail'])})" if n.get("detail") else "")
                for n in result.notes]
    return "\n".join(out) + "\n"
