"""Rendering a conformance report: terminal table, JSON, JUnit XML and Markdown.

Every rendering carries the provenance (hedgespec version, spec version, profile name and
digest, seed, adapter name and declared capabilities) and is a pure function of the report:
the same report renders to the same bytes.
"""

from __future__ import annotations

import json
import re
from typing import Any
from xml.sax.saxutils import escape, quoteattr

MARKS = {"pass": "pass", "fail": "FAIL", "unsupported": "unsupported", "not exercised": "not exercised"}
NAME_LIMIT = 200  # characters of a name (engine, adapter, profile, vectors) a rendering shows
LINE_LIMIT = 4000  # characters of one line of a text or Markdown report


def escaped(text: Any) -> str:
    """``text`` with every control or other unprintable character escaped as ``repr`` does (``\\n``, ``\\x1b``):
    text from an engine or an input file never starts a line of its own (a forged ``verdict: PASS``) nor sends a
    terminal escape code."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def shown(text: Any, limit: int = NAME_LIMIT) -> str:
    """``escaped(text)`` of at most ``limit`` characters (the rest counted, not shown)."""
    text = str(text)
    out = escaped(text[:limit])
    if len(text) > limit or len(out) > limit:
        return out[:limit] + f"... ({len(text)} characters in all)"
    return out


def _lines(out: list[str]) -> str:
    """The report's lines as text: each escaped (``escaped``) and at most ``LINE_LIMIT`` characters."""
    return "\n".join(shown(line, LINE_LIMIT) for line in out) + "\n"


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _provenance_lines(report: dict[str, Any]) -> list[str]:
    p = report["provenance"]
    return [
        f"hedgespec {p['hedgespec_version']}, spec {p['spec_version']}, profile {shown(p['profile']['name'])} "
        f"({p['profile']['digest']})",
        f"engine {shown(p['adapter']['engine'])} (adapter {shown(p['adapter']['name'])}), capabilities: "
        f"{', '.join(p['adapter']['capabilities']) or '(none)'}",
        f"seed {p['seed']}, {p['examples']} random cases of {p['steps_per_case']} steps, vectors: "
        f"{shown(p['vectors'] or 'not run')}, rulebook: {shown(p['rulebook'])}",
    ]


def _rule_detail(row: dict[str, Any]) -> str:
    if row["verdict"] == "unsupported":
        return "needs " + ", ".join(row.get("missing_capabilities", []))
    if row["verdict"] == "fail":
        first = row.get("first_violation")
        text = (f"{first.get('source', '')}{_step(first.get('step'))}: {first.get('message', '')}" if first
                else f"{row['vectors_failed']} vector(s) failed")
        if row.get("example"):
            text += f" [example: {row['example']}]"
        return text
    return ""


def coverage(report: dict[str, Any]) -> str:
    """How much of the rulebook's MUST level the verdict covers, in words ("" without the count).

    A PASS over an engine that declares few capabilities says little: the rules it cannot do are
    unsupported, never failed. The verdict line says how many MUST rules were not checked and why.
    """
    must = report["summary"].get("must_rules")
    if not must or not must["total"]:
        return ""
    if must["checked"] == must["total"]:
        return f"all {must['total']} MUST rules checked"
    why = []
    if must["unsupported"]:
        why.append(f"{must['unsupported']} unsupported (capabilities not declared)")
    if must["not exercised"]:
        why.append(f"{must['not exercised']} not exercised by this run")
    return f"only {must['checked']} of {must['total']} MUST rules checked; not checked: {', '.join(why)}"


def start_failure(report: dict[str, Any]) -> str | None:
    """The reason the engine could not be started, when it could not (kind ``start``), or refused the
    run's first ``reset`` (a profile it does not support, say): nothing was run."""
    for f in report.get("engine_failures", []):
        failure = f.get("engine_failure")
        if isinstance(failure, dict) and (failure.get("kind") == "start" or f.get("at") == "reset"):
            return str(failure.get("reason", ""))
    return None


def verdict_line(report: dict[str, Any]) -> str:
    """The last line of the text report: the verdict, what fails it, and how much of MUST it covers.

    ``verdict: PASS (all 48 MUST rules checked)``; ``verdict: PASS, but only 8 of 48 MUST rules
    checked; not checked: 40 unsupported (capabilities not declared)``; ``verdict: FAIL (failing:
    HM-FEE-001); all 48 MUST rules checked``; ``verdict: FAIL (the engine could not be started: ...)``.
    """
    s = report["summary"]
    line = f"verdict: {s['verdict']}"
    dead = start_failure(report)
    if dead is not None and any(f.get("at") == "reset" for f in report.get("engine_failures", [])):
        return f"{line} ({dead}; nothing was run)"
    if dead is not None:
        return f"{line} (the engine could not be started: {dead})"
    d = s["differential"]
    invalid = s["vectors"].get("invalid", 0)
    because = ([f"failing: {', '.join(s['blocking_rules'])}"] if s["blocking_rules"] else []) + \
        [f"{n} {what}{'s' if n != 1 else ''}" for n, what in ((d["engine_failures"], "engine failure"),
                                                            (d["unexplained_divergences"], "unexplained divergence"),
                                                            (invalid, "invalid vector"))
         if n and s["verdict"] == "FAIL"]
    if because:
        line += f" ({'; '.join(because)})"
    scope = coverage(report)
    if not scope:
        return line
    if scope.startswith("all") and not because:
        return f"{line} ({scope})"
    return f"{line}{', but' if s['verdict'] == 'PASS' else ';'} {scope}"


def _step(step: Any) -> str:
    """`` step 3`` (steps are numbered from 1), or `` at the reset`` when it failed before any step."""
    return " at the reset" if step is None else f" step {step}"


def _where(failure: dict[str, Any]) -> str:
    if failure.get("vector") is not None:
        return f"vector {failure['vector']}{_step(failure.get('step'))}"
    if failure.get("at") == "reset":
        return "first reset"
    if failure.get("case") is None:
        return "engine start"
    return f"case {failure['case']}{_step(failure.get('step'))}"


def expected_failure_notes(report: dict[str, Any]) -> list[str]:
    """The rules listed as expected failures that pass (drop them from the list), one line each."""
    return [f"{row['id']}: {row['note']}" for row in report["rules"] if row.get("note")]


def _failure_what(f: dict[str, Any]) -> str:
    return ", ".join(f.get("rules", [])) or "; ".join(f.get("divergence", [])[:1]) or \
        (f.get("engine_failure") or {}).get("reason", "")


def _vector_line(vec: dict[str, Any]) -> str:
    step = _step(vec["step"]) if "step" in vec else ""
    return f"{vec['status']} {vec['path']}{step}: {vec.get('reason', '')}"


def _differential_line(f: dict[str, Any]) -> str:
    shrink = f" shrunk {f['original_steps']}->{f['minimal_steps']} steps" if "minimal_steps" in f else ""
    unsaved = " (not written: the run's limit of minimal cases was reached)" if f.get("example_limit_reached") else ""
    return f"{_where(f)}: {f['category']}: {_failure_what(f)}{shrink}{unsaved}"


def to_text(report: dict[str, Any], width: int = 110) -> str:
    """The terminal table: one line per rule, then vectors, divergences and engine failures."""
    out = ["hedgespec conformance report", *_provenance_lines(report), ""]
    header = f"{'rule':<14} {'level':<6} {'verdict':<14} {'checks':>7} {'viol.':>6} {'vectors':>8}  detail"
    out += [header, "-" * min(width, len(header) + 20)]
    for row in report["rules"]:
        verdict = MARKS[row["verdict"]]
        if row.get("expected_failure") and row["verdict"] == "fail":
            verdict = "fail (xfail)"
        vectors = f"{row['vectors_passed']}/{row['vectors_passed'] + row['vectors_failed']}"
        detail = row["title"] if row["verdict"] != "unsupported" else _rule_detail(row)
        line = f"{row['id']:<14} {row['level']:<6} {verdict:<14} {row['checks']:>7} {row['violations']:>6} " \
               f"{vectors:>8}  {detail}"
        out.append(line if len(line) <= width else line[:width - 3] + "...")
        if row["verdict"] == "fail":
            out.append(f"{'':<16}-> {_rule_detail(row)}")  # whole: the point may be at the end
    s = report["summary"]
    out.append("")
    out.append("rules: " + ", ".join(f"{n} {k}" for k, n in s["rules"].items()))
    v = s["vectors"]
    invalid = f" ({v['invalid']} invalid)" if v.get("invalid") else ""
    out.append(f"vectors: {v['total']} ({v['passed']} passed, {v['failed']} failed{invalid}, "
               f"{v['unsupported']} unsupported)")
    for vec in report["vectors"]:
        if vec["status"] != "passed":
            out.append(f"  {_vector_line(vec)}")  # whole: the point may be at the end
    stale = [vec for vec in report["vectors"] if vec.get("stale_rules")]
    if stale:
        out.append(f"  {len(stale)} vector(s) made against an older text of "
                   + ", ".join(sorted({r for vec in stale for r in vec['stale_rules']})) + " (regenerate)")
    d = s["differential"]
    out.append(f"differential: {d['cases']} cases, {d['steps']} steps; {d['rule_failures']} rule failures, "
               f"{d['unexplained_divergences']} unexplained divergences, {d['engine_failures']} engine failures")
    out += [f"  {line}" for line in _differential_limits(d)]
    for f in report["differential_failures"]:
        if f.get("duplicate_of_earlier"):
            continue
        example = f" [{f['example']}]" if f.get("example") else ""
        out.append(f"  {_differential_line(f)}{example}")
    vector_engine = [f for f in report.get("engine_failures", []) if f.get("vector") is not None]
    if vector_engine:
        out.append(f"engine failures during the vectors: {len(vector_engine)}")
        out += [f"  {_where(f)}: {f['engine_failure']}" for f in vector_engine]
    for line in expected_failure_notes(report):
        out.append(f"note: {line}")
    for note in report["notes"]:
        out.append(f"note: {note}")
    out.append("")
    out.append(verdict_line(report))
    return _lines(out)


def _differential_limits(d: dict[str, Any]) -> list[str]:
    """What the differential run did not cover, in words (text and Markdown reports)."""
    lines = []
    if d.get("small_price_moves_only"):
        lines.append("price moves and funding rates kept small (the engine does not declare liquidation): "
                     "no case drove a leg into liquidation")
    if d.get("cases_ended_at_missing_capability"):
        lines.append(f"{d['cases_ended_at_missing_capability']} cases ended where the model needed a capability "
                     "the engine does not declare")
    return lines


def to_markdown(report: dict[str, Any]) -> str:
    p = report["provenance"]
    s = report["summary"]
    scope = coverage(report) or start_failure(report)
    out = [f"# hedgespec conformance: {shown(p['adapter']['engine'])} — {s['verdict']}", ""]
    if scope:
        out += [f"**{verdict_line(report)[len('verdict: '):]}**", ""]
    out += [f"- {line}" for line in _provenance_lines(report)]
    out += ["", "| rule | level | verdict | checks | violations | vectors | detail |",
            "|---|---|---|---:|---:|---:|---|"]
    for row in report["rules"]:
        verdict = row["verdict"] + (" (expected)" if row.get("expected_failure") and row["verdict"] == "fail" else "")
        detail = (_rule_detail(row) or row["title"]).replace("|", "\\|")
        out.append(f"| {row['id']} | {row['level']} | {verdict} | {row['checks']} | {row['violations']} | "
                   f"{row['vectors_passed']}/{row['vectors_passed'] + row['vectors_failed']} | {detail} |")
    v = s["vectors"]
    out += ["", f"**Vectors**: {v['total']} — {v['passed']} passed, {v['failed']} failed, "
                f"{v['unsupported']} unsupported.", ""]
    for vec in report["vectors"]:
        if vec["status"] != "passed":
            step = _step(vec["step"]) if "step" in vec else ""
            out.append(f"- `{vec['path']}` {vec['status']}{step}: {vec.get('reason', '')}")
    d = s["differential"]
    out += ["", f"**Differential run**: {d['cases']} cases, {d['steps']} steps; {d['rule_failures']} rule "
                f"failures, {d['unexplained_divergences']} unexplained divergences, {d['engine_failures']} "
                "engine failures.", ""]
    out += [f"- {line}" for line in _differential_limits(d)] + ([""] if _differential_limits(d) else [])
    for f in report["differential_failures"]:
        if not f.get("duplicate_of_earlier"):
            out.append(f"- {_differential_line(f)}" + (f" — replay `{f['example']}`" if f.get("example") else ""))
    vector_engine = [f for f in report.get("engine_failures", []) if f.get("vector") is not None]
    if vector_engine:
        out += ["", f"**Engine failures during the vectors**: {len(vector_engine)}.", ""]
        out += [f"- {_where(f)}: {f['engine_failure']}" for f in vector_engine]
    out += [f"- note: {line}" for line in expected_failure_notes(report)]
    out += [f"- note: {n}" for n in report["notes"]]
    return _lines(out)


def to_junit(report: dict[str, Any]) -> str:
    """JUnit XML: one test case per rule (failure / skipped), per vector, and per differential failure."""
    p = report["provenance"]
    cases: list[str] = []
    failures = skipped = 0
    for row in report["rules"]:
        body = ""
        if row["verdict"] == "fail" and not row.get("expected_failure"):
            failures += 1
            body = f"<failure message={quoteattr(_rule_detail(row))}/>"
        elif row.get("note"):  # listed as an expected failure, but passes: a pass that says so
            body = f"<system-out>{escape(row['note'])}</system-out>"
        elif row["verdict"] in ("unsupported", "not exercised") or row.get("expected_failure"):
            skipped += 1
            reason = row["verdict"] if not row.get("expected_failure") else "expected failure"
            body = f"<skipped message={quoteattr(reason + (': ' + _rule_detail(row) if _rule_detail(row) else ''))}/>"
        cases.append(f'    <testcase classname="hedgespec.rules" name={quoteattr(row["id"] + " " + row["title"])}>'
                     f"{body}</testcase>")
    for vec in report["vectors"]:
        body = ""
        if vec["status"] == "failed":
            failures += 1
            body = f"<failure message={quoteattr(vec.get('reason', ''))}/>"
        elif vec["status"] == "unsupported":
            skipped += 1
            body = f"<skipped message={quoteattr(vec.get('reason', ''))}/>"
        cases.append(f'    <testcase classname="hedgespec.vectors" name={quoteattr(vec["path"])}>{body}</testcase>')
    for f in report["differential_failures"]:
        if f.get("duplicate_of_earlier") or f["category"] == "rule failure":
            continue
        failures += 1
        msg = "; ".join(f.get("divergence", [])) or (f.get("engine_failure") or {}).get("reason", "")
        label = quoteattr(f"{_where(f)}: {f['category']}")
        cases.append(f'    <testcase classname="hedgespec.differential" name={label}>'
                     f"<failure message={quoteattr(msg)}/></testcase>")
    props = {"hedgespec_version": p["hedgespec_version"], "spec_version": p["spec_version"],
             "profile": shown(p["profile"]["name"]), "profile_digest": p["profile"]["digest"], "seed": str(p["seed"]),
             "adapter": shown(p["adapter"]["name"]), "capabilities": ",".join(p["adapter"]["capabilities"])}
    prop_xml = "\n".join(f"      <property name={quoteattr(k)} value={quoteattr(v)}/>" for k, v in props.items())
    name = quoteattr(f"hedgespec conformance: {shown(p['adapter']['engine'])}")
    return _NOT_XML.sub(lambda m: escaped(m.group()),
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<testsuites name="hedgespec" tests="{len(cases)}" failures="{failures}">\n'
        f'  <testsuite name={name} tests="{len(cases)}" failures="{failures}" skipped="{skipped}" errors="0">\n'
        f"    <properties>\n{prop_xml}\n    </properties>\n"
        + "\n".join(cases) + "\n  </testsuite>\n</testsuites>\n")


#: characters XML 1.0 cannot hold (control characters but tab and line breaks, surrogates, U+FFFE and U+FFFF)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
