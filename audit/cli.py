"""Command line: ``hedgespec import VENUE ...`` and ``hedgespec audit TRACE ...``.

``register(subparsers)`` adds both subcommands to an argparse subparsers object; each sets ``func``
(parsed args -> exit code). Exit codes: 0 clean, 1 findings, 2 bad input or usage (also when records
or rows had to be rejected and nothing else was found).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .engine import DEFAULT_DUP_WINDOW, DEFAULT_MAX_LISTED, audit_file
from .importers import VENUES
from .importers.common import ImportError_, write_trace
from .report import render_json, render_markdown, render_text

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
    aud.add_argument("--profile", default="seed", help="built-in profile name or profile file (default: seed)")
    fmt = aud.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_const", const="json", dest="format", help="JSON report")
    fmt.add_argument("--markdown", action="store_const", const="markdown", dest="format", help="Markdown report")
    aud.add_argument("-o", "--output", metavar="FILE", help="write the report here instead of standard output")
    aud.add_argument("--dup-window", type=int, default=DEFAULT_DUP_WINDOW, metavar="N",
                     help="duplicate check over the last N records (default %(default)s)")
    aud.add_argument("--max-listed", type=int, default=DEFAULT_MAX_LISTED, metavar="N",
                     help="list at most N findings and N rejections (counts stay exact; default %(default)s)")
    aud.set_defaults(func=run_audit, format="text")


def run_import(args: argparse.Namespace) -> int:
    try:
        builder, meta, opening = args.importer.build(args)
        count = write_trace(builder.lines(meta, opening), args.output)
    except ImportError_ as exc:
        print(f"hedgespec import: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for message in builder.errors:
        print(f"hedgespec import: {message}", file=sys.stderr)
    if builder.error_count > len(builder.errors):
        print(f"hedgespec import: ... {builder.error_count - len(builder.errors)} more rows not imported",
              file=sys.stderr)
    imported = len(builder.records)
    print(f"hedgespec import: {builder.rows_read} rows read, {imported} records written, "
          f"{builder.error_count} rows not imported; {count} lines in {args.output}", file=sys.stderr)
    for (what, detail), n in sorted(builder.notes.items()):
        print(f"hedgespec import: note: {what}: {n}" + (f" ({detail})" if detail else ""), file=sys.stderr)
    return EXIT_BAD_INPUT if builder.error_count else EXIT_CLEAN


def run_audit(args: argparse.Namespace) -> int:
    from hedgespec.spec.profiles import ProfileError, load_profile

    try:
        profile = load_profile(args.profile)
    except ProfileError as exc:
        print(f"hedgespec audit: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.dup_window < 1 or args.max_listed < 0:
        print("hedgespec audit: --dup-window must be >= 1 and --max-listed >= 0", file=sys.stderr)
        return EXIT_BAD_INPUT
    path = Path(args.trace)
    if not path.is_file():
        print(f"hedgespec audit: {args.trace}: no such file", file=sys.stderr)
        return EXIT_BAD_INPUT
    result = audit_file(path, profile, dup_window=args.dup_window, max_listed=args.max_listed)
    render = {"json": render_json, "markdown": render_markdown}.get(args.format, render_text)
    text = render(result)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    if result.finding_count:
        return EXIT_FINDINGS
    return EXIT_BAD_INPUT if result.summary["records_rejected"] else EXIT_CLEAN


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (until ``hedgespec/cli.py`` calls ``register``)."""
    parser = argparse.ArgumentParser(prog="hedgespec")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
