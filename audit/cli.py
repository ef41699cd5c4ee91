"""Command line: ``hedgespec import VENUE ...`` and ``hedgespec audit TRACE ...``.

``register(subparsers)`` adds both subcommands to an argparse subparsers object; each sets ``func``
(parsed args -> exit code). Exit codes: 0 clean, 1 findings, 2 bad input or usage (also when records
or rows had to be rejected and nothing else was found, and when the audit could decide nothing at
all: an empty or unusable export is never reported as clean). Every error is one line on standard
error naming the file; output paths are checked before any work is done.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from .engine import DEFAULT_DUP_WINDOW, DEFAULT_MAX_LISTED, audit_file
from .importers import VENUES
from .importers.common import ImportError_
from .report import INCOMPLETE, render_json, render_markdown, render_text, verdict

EXIT_CLEAN, EXIT_FINDINGS, EXIT_BAD_INPUT = 0, 1, 2


def _common_import_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user-trades", action="append", default=[], metavar="FILE", required=True,
                        help="fills: Binance userTrades, ccxt trades, Bybit execution list, OKX fills")
    parser.add_argument("--income", action="append", default=[], metavar="FILE",
                        help="funding and other cash flows: Binance income, ccxt funding history, Bybit "
                             "transaction log, OKX bills")
    parser.add_argument("--positions", action="append", default=[], metavar="FILE",
                        help="position snapshots (Binance positionRisk, ccxt positions, Bybit/OKX positions)")
    parser.add_argument("--opening-positions", action="append", default=[], metavar="FILE",
                        help="positions at the start of the export: the declared opening state")
    parser.add_argument("--opening-flat", action="store_true",
                        help="declare that every leg was flat when the export starts")
    parser.add_argument("--requests", action="append", default=[], metavar="FILE",
                        help="request log: {\"time\", \"request\", \"response\"} entries (orders, mode changes)")
    parser.add_argument("--mode", choices=("HEDGE", "ONE_WAY"), help="position mode at the start of the export")
    parser.add_argument("--account", help="account label for the report")
    parser.add_argument("--ledger-complete", action="store_true",
                        help="declare that --income holds every wallet movement of the period")
    parser.add_argument("-o", "--output", required=True, metavar="TRACE", help="trace file to write (JSON lines)")


def register(subparsers: Any) -> None:
    """Add ``import`` and ``audit`` to an argparse subparsers object."""
    imp = subparsers.add_parser("import", help="convert venue exports to a hedgespec trace",
                                description="Convert venue exports (API responses saved as JSON) to a trace.")
    venues = imp.add_subparsers(dest="venue", metavar="VENUE", required=True)
    for name, module in VENUES.items():
        sub = venues.add_parser(name, help=(module.__doc__ or "").strip().splitlines()[0],
                                description=(module.__doc__ or "").strip().splitlines()[0])
        _common_import_arguments(sub)
        module.add_arguments(sub)
        sub.set_defaults(func=run_import, importer=module)

    aud = subparsers.add_parser("audit", help="audit a trace against the hedge-mode rules",
                                description="Replay a trace, reconstruct each leg, report findings.")
    aud.add_argument("trace", metavar="TRACE", help="trace file (JSON lines, format v1)")
    aud.add_argument("--profile", default=None,
                     help="built-in profile name or profile file (default: seed; a note names the shipped profile "
                          "of the trace's venue)")
    fmt = aud.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_const", const="json", dest="format", help="JSON report")
    fmt.add_argument("--markdown", action="store_const", const="markdown", dest="format", help="Markdown report")
    aud.add_argument("-o", "--output", metavar="FILE", help="write the report here instead of standard output")
    aud.add_argument("--dup-window", type=int, default=DEFAULT_DUP_WINDOW, metavar="N",
                     help="duplicate check over the last N records (default %(default)s)")
    aud.add_argument("--max-listed", type=int, default=DEFAULT_MAX_LISTED, metavar="N",
                     help="list at most N findings and N rejections (counts stay exact; default %(default)s)")
    aud.set_defaults(func=run_audit, format="text")


def _output_problem(output: str, inputs: list[str]) -> str | None:
    """Why ``output`` cannot be written (checked before the work), or None."""
    try:
        return _output_check(output, inputs)
    except OSError as exc:  # e.g. a name longer than the system allows
        return f"{output}: cannot write: {exc.strerror or exc}"


def _output_check(output: str, inputs: list[str]) -> str | None:
    path = Path(output)
    if path.is_dir():
        return f"{output}: is a directory (give a file name)"
    parent = path.parent
    if not parent.exists():
        return f"{output}: directory {parent} does not exist"
    if not parent.is_dir():
        return f"{output}: {parent} is not a directory"
    if (path.exists() and not os.access(path, os.W_OK)) or (not path.exists() and not os.access(parent, os.W_OK)):
        return f"{output}: not writable"
    for name in inputs:
        try:
            if path.exists() and Path(name).exists() and path.samefile(name):
                return f"{output}: is also an input file; it would be overwritten"
        except OSError:
            continue
    return None


def _write_text(output: str, text: str) -> str | None:
    """Write ``text`` to ``output``; the reason when it could not be written, else None."""
    try:
        with open(output, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
    except OSError as exc:
        return f"{output}: cannot write: {exc.strerror or exc}"
    return None


def _import_inputs(args: argparse.Namespace) -> list[str]:
    names = []
    for key in ("user_trades", "income", "positions", "opening_positions", "requests", "funding_rates", "balances"):
        names += getattr(args, key, None) or []
    return names


def run_import(args: argparse.Namespace) -> int:
    problem = _output_problem(args.output, _import_inputs(args))
    if problem is not None:
        print(f"hedgespec import: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        builder, meta, opening = args.importer.build(args)
        lines = list(builder.lines(meta, opening))
    except ImportError_ as exc:
        print(f"hedgespec import: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    failure = _write_text(args.output, "".join(line + "\n" for line in lines))
    if failure is not None:
        print(f"hedgespec import: {failure}", file=sys.stderr)
        return EXIT_BAD_INPUT
    count = len(lines)
    for message in builder.errors:
        print(f"hedgespec import: {message}", file=sys.stderr)
    if builder.error_count > len(builder.errors):
        print(f"hedgespec import: ... {builder.error_count - len(builder.errors)} more rows not imported",
              file=sys.stderr)
    print(f"hedgespec import: {_accounting(builder)}; {count} lines in {args.output}", file=sys.stderr)
    for (what, detail), n in sorted(builder.notes.items()):
        print(f"hedgespec import: note: {what}: {n}" + (f" ({detail})" if detail else ""), file=sys.stderr)
    lost = builder.unaccounted()
    if lost:  # every row read is written, merged, skipped, kept once or reported: anything else is a bug
        print(f"hedgespec import: {lost} rows read but not accounted for (a hedgespec bug; please report it)",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    return EXIT_BAD_INPUT if builder.error_count else EXIT_CLEAN


def _accounting(builder: Any) -> str:
    """Where every row read went: written, merged into the opening, skipped (per reason), duplicates, errors."""
    skipped = sum(builder.skipped.values())
    reasons = "; ".join(f"{what}: {n}" for what, n in sorted(builder.skipped.items()))
    derived = len(builder.records) - builder.rows_written
    return (f"{builder.rows_read} rows read = {builder.rows_written} written as records"
            f" + {builder.rows_merged} merged into the opening record"
            f" + {skipped} skipped" + (f" ({reasons})" if reasons else "")
            + f" + {builder.duplicates} duplicate rows kept once"
            + f" + {builder.error_count} rows not imported"
            + (f"; {derived} records derived from rows already written" if derived else ""))


BOM = b"\xef\xbb\xbf"


def _trace_problem(path: Path) -> str | None:
    """Why the trace cannot be audited at all (checked before the work), or None."""
    try:
        return _trace_check(path)
    except OSError as exc:  # e.g. a name longer than the system allows
        return f"{path}: cannot read: {exc.strerror or exc}"


def _trace_check(path: Path) -> str | None:
    if path.is_dir():
        return f"{path}: is a directory, not a trace file"
    if not path.exists():
        return f"{path}: no such file"
    try:
        with path.open("rb") as stream:
            head = stream.read(len(BOM))
    except OSError as exc:
        return f"{path}: cannot read: {exc.strerror or exc}"
    if head == BOM:
        return (f"{path}:1: UTF-8 BOM at start of file (a trace is UTF-8 without a byte order mark; "
                "remove the first 3 bytes)")
    return None


#: the shipped profile of each venue an importer writes as meta.venue
VENUE_PROFILES = {"binance": "binance-usdm", "bybit": "bybit-v5", "okx": "okx-v5", "gate": "gate", "kucoin": "kucoin"}
#: how much of the trace's first line is read to find its meta record or tell a venue export
HEAD_BYTES = 1 << 20


def _first_line(path: Path) -> bytes:
    try:
        with path.open("rb") as stream:
            return stream.readline(HEAD_BYTES)
    except OSError:
        return b""


def _trace_venue(head: bytes) -> str | None:
    """``meta.venue`` of a trace's first line (None when it has no readable meta record)."""
    try:
        first = json.loads(head)
    except (ValueError, RecursionError):  # not JSON, a 5,000-digit number, or nested too deeply
        return None
    if isinstance(first, dict) and first.get("type") == "meta" and isinstance(first.get("venue"), str):
        return first["venue"]
    return None


def _looks_like_venue_export(head: bytes) -> bool:
    """Whether a trace's first line is a venue response rather than a trace record: it opens a JSON array, or
    is an object without the ``v`` and ``type`` every trace record has."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"["):
        return True
    try:
        first = json.loads(text)
    except (ValueError, RecursionError):
        return text.startswith(b"{") and b'"v"' not in text
    return isinstance(first, dict) and not ("v" in first and "type" in first)


def _profile_note(path: Path, head: bytes) -> str | None:
    """The note printed when no ``--profile`` is given and the trace's venue has a shipped profile."""
    venue = _trace_venue(head)
    if venue is None:
        return None
    from hedgespec.spec.profiles import builtin_profile_names

    shipped = VENUE_PROFILES.get(venue.lower())
    if shipped is None or shipped not in builtin_profile_names():
        return None
    return (f"note: no --profile given: auditing {path.name} under the seed profile, not {shipped}, the shipped "
            f"profile of its venue {venue!r} (meta.venue); pass --profile {shipped} to audit against the venue's "
            "documented choices, or --profile seed to silence this note")


def run_audit(args: argparse.Namespace) -> int:
    from hedgespec.spec.profiles import ProfileError, load_profile

    try:
        profile = load_profile("seed" if args.profile is None else args.profile)
    except ProfileError as exc:
        print(f"hedgespec audit: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.dup_window < 1 or args.max_listed < 0:
        print("hedgespec audit: --dup-window must be >= 1 and --max-listed >= 0", file=sys.stderr)
        return EXIT_BAD_INPUT
    path = Path(args.trace)
    problem = _trace_problem(path)
    if problem is None and args.output:
        problem = _output_problem(args.output, [args.trace])
    if problem is not None:
        print(f"hedgespec audit: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    head = _first_line(path)
    note = _profile_note(path, head) if args.profile is None else None
    try:
        result = audit_file(path, profile, dup_window=args.dup_window, max_listed=args.max_listed)
    except OSError as exc:
        print(f"hedgespec audit: {args.trace}: cannot read: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if result.summary["records_rejected"] and _looks_like_venue_export(head):
        print(f"hedgespec audit: {args.trace}: this looks like a venue export (an API response), not a hedgespec "
              f"trace: convert it first, e.g. hedgespec import binance --user-trades {args.trace} -o trace.jsonl "
              "(hedgespec import --help lists the venues), then audit trace.jsonl", file=sys.stderr)
    render = {"json": render_json, "markdown": render_markdown}.get(args.format, render_text)
    text = render(result)
    if args.output:
        failure = _write_text(args.output, text)
        if failure is not None:
            print(f"hedgespec audit: {failure}", file=sys.stderr)
            return EXIT_BAD_INPUT
    else:
        sys.stdout.write(text)
    outcome = verdict(result)
    if note is not None and outcome != "nothing decided":  # printed once the report is out, never before an error
        print(f"hedgespec audit: {note}", file=sys.stderr)
    if outcome == "findings":
        return EXIT_FINDINGS
    if outcome == "nothing decided":
        print(f"hedgespec audit: {args.trace}: nothing could be decided from this trace (empty or unusable "
              "export?); not a clean result", file=sys.stderr)
        return EXIT_BAD_INPUT
    return EXIT_BAD_INPUT if outcome == INCOMPLETE else EXIT_CLEAN


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (until ``hedgespec/cli.py`` calls ``register``)."""
    parser = argparse.ArgumentParser(prog="hedgespec")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
