"""``hedgespec conform`` and ``hedgespec vectors``: the conformance suite on the command line.

``register(subparsers)`` adds both subcommands to the ``hedgespec`` parser (``hedgespec.cli``);
``main(argv)`` runs them standalone (``python -m hedgespec.conformance.cli conform ...``).

Exit status: 0 conformant (or vectors up to date); 1 a MUST rule failed (``--fail-on`` lowers the
bar), an unexplained divergence or an engine failure, or stale vectors; 2 bad input (one line on
stderr, no traceback).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hedgespec.conformance import report as R
from hedgespec.conformance.failures import DEFAULT_STEP_TIMEOUT, EngineFailure, step_timeout_seconds
from hedgespec.conformance.loading import EngineSpecError, check_adapter, load_factory, make_adapter
from hedgespec.conformance.runner import LEVEL_ORDER, RunConfig, run
from hedgespec.spec.profiles import ProfileError, load_profile

from hedgespec import jsonio
from hedgespec.names import text_name

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEFAULT_EXAMPLES = 100
DEFAULT_STEPS = 40
DEFAULT_FAILURES_DIR = "hedgespec-failures"


class UsageError(Exception):
    """Bad command-line input: one line on stderr, exit status 2."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text!r}")
    return value


def register(subparsers: Any) -> None:
    """Add ``conform`` and ``vectors`` to a ``hedgespec`` subparsers object."""
    conform = subparsers.add_parser(
        "conform", help="check an engine against the rulebook (the built-in reference when none is named)",
        description="Replay the conformance vectors, run a seeded random differential run against the "
                    "reference model and check every rule on the engine's own steps.")
    engine = conform.add_mutually_exclusive_group()
    engine.add_argument("--engine", metavar="MODULE:FACTORY",
                        help="a Python adapter factory (called with --profile as given, a name or a file, if it takes "
                              "an argument)")
    engine.add_argument("--engine-cmd", metavar="COMMAND",
                        help="an engine speaking hedgespec-engine/1 JSON lines on stdin/stdout")
    conform.add_argument("--profile", default="seed", help="built-in profile name or profile file (default seed)")
    conform.add_argument("--vectors", metavar="DIR", help="a vector directory (default: the built-in corpus of the profile; for a "
                              "profile file, vectors made for it)")
    conform.add_argument("--no-vectors", action="store_true", help="skip the vectors")
    conform.add_argument("--examples", type=_positive_int, default=DEFAULT_EXAMPLES, metavar="N",
                         help=f"random differential cases (default {DEFAULT_EXAMPLES})")
    conform.add_argument("--steps", type=_positive_int, default=DEFAULT_STEPS, metavar="N",
                         help=f"actions per random case (default {DEFAULT_STEPS})")
    conform.add_argument("--seed", type=_positive_int, default=0, help="seed of the random run (default 0)")
    conform.add_argument("--timeout", type=step_timeout_seconds, default=DEFAULT_STEP_TIMEOUT, metavar="SECONDS",
                         help="per-step timeout: an --engine-cmd reply or an in-process engine call (default 10)")
    conform.add_argument("--json", metavar="FILE", help="write the report as JSON")
    conform.add_argument("--junit", metavar="FILE", help="write the report as JUnit XML")
    conform.add_argument("--markdown", metavar="FILE", help="write the report as Markdown")
    conform.add_argument("--expected-failures", metavar="FILE",
                         help="known gaps: a JSON object or lines of 'RULE-ID reason'")
    conform.add_argument("--fail-on", choices=LEVEL_ORDER, default="MUST",
                         help="lowest rule level whose failure makes the exit status 1 (default MUST)")
    conform.add_argument("--failures-dir", metavar="DIR", default=DEFAULT_FAILURES_DIR,
                         help=f"where minimal failing cases are written as vectors (default {DEFAULT_FAILURES_DIR})")
    conform.add_argument("--quiet", action="store_true", help="print only the verdict line")
    conform.set_defaults(func=_guarded(cmd_conform, "conform"))

    vectors = subparsers.add_parser("vectors", help="export or verify the conformance vector corpus")
    sub = vectors.add_subparsers(dest="vectors_command", metavar="ACTION")
    export = sub.add_parser("export", help="write the corpus generated from the model into DIR")
    export.add_argument("dir", metavar="DIR")
    export.add_argument("--profile", action="append", help="only this profile (repeatable)")
    verify = sub.add_parser("verify", help="regenerate and compare with the committed corpus; flag stale vectors")
    verify.add_argument("dir", metavar="DIR", nargs="?", help="corpus root (default: the built-in corpus)")
    verify.add_argument("--profile", action="append", help="only this profile (repeatable)")
    vectors.set_defaults(func=_guarded(cmd_vectors, "vectors"))


def _guarded(handler: Callable[[argparse.Namespace], int], name: str) -> Callable[[argparse.Namespace], int]:
    def run_handler(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except (UsageError, EngineSpecError, ProfileError) as exc:
            sys.stderr.write(f"hedgespec {name}: {' '.join(str(exc).split())}\n")
            return EXIT_USAGE
        except OSError as exc:
            sys.stderr.write(f"hedgespec {name}: {exc.filename or ''}: {exc.strerror or exc}\n")
            return EXIT_USAGE

    return run_handler


def read_expected_failures(path: str) -> dict[str, str]:
    """``{"RULE-ID": "why", ...}`` or lines ``RULE-ID why`` (``#`` starts a comment)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read: {exc}") from None
    if text.lstrip().startswith("{"):
        try:
            data = jsonio.loads(text)
        except jsonio.JSONInputError as exc:  # also a repeated rule ID, deep nesting or a 5,000-digit number
            raise UsageError(exc.at(path)) from None
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
            raise UsageError(f"{path}: expected an object of rule ID -> reason (strings)")
        return dict(data)
    out: dict[str, str] = {}
    first: dict[str, int] = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        rule_id, _, reason = line.partition(" ")
        if not rule_id.startswith("HM-"):
            raise UsageError(f"{path}:{n}: expected a rule ID (HM-AREA-NNN), got {rule_id!r}")
        if rule_id in first:  # which reason is meant cannot be told: never keep one silently
            raise UsageError(f"{path}:{n}: {rule_id} is listed twice (first at line {first[rule_id]})")
        first[rule_id] = n
        out[rule_id] = reason.strip()
    return out


def engine_factory(args: argparse.Namespace) -> tuple[Callable[[], Any], str]:
    """The factory the runner calls, and the engine's label for the report."""
    profile = args.profile
    if args.engine_cmd is not None:
        from hedgespec.conformance.jsonl import JsonLinesAdapter

        try:
            words = shlex.split(args.engine_cmd)
        except ValueError as exc:
            raise UsageError(f"--engine-cmd: {exc}") from None
        if not words:
            raise UsageError("--engine-cmd: empty command")
        cmd, timeout = args.engine_cmd, args.timeout
        # the report names the command by its words' base names: no absolute paths in reports
        label = text_name(" ".join(word.rsplit("/", 1)[-1] for word in shlex.split(cmd)))
        return (lambda: JsonLinesAdapter(cmd, timeout=timeout)), label
    if args.engine:
        factory = load_factory(args.engine)

        def build() -> Any:
            adapter = make_adapter(factory, profile)
            check_adapter(adapter, args.engine)
            return adapter

        return build, text_name(args.engine)
    from hedgespec.conformance.adapter import ReferenceAdapter

    return (lambda: ReferenceAdapter(profile)), "hedgespec-reference"


def cmd_conform(args: argparse.Namespace) -> int:
    if args.no_vectors and args.examples == 0:
        raise UsageError("--examples 0 with --no-vectors checks nothing: give random cases (--examples N) "
                         "or leave the vectors on")
    load_profile(args.profile)  # ProfileError -> exit 2
    vectors_dir = None
    if args.vectors:
        vectors_dir = Path(args.vectors)
        if not vectors_dir.is_dir():
            raise UsageError(f"--vectors: {args.vectors}: not a directory")
    expected = read_expected_failures(args.expected_failures) if args.expected_failures else {}
    for option in ("json", "junit", "markdown"):  # checked before the run, not when its report is written
        target = getattr(args, option)
        if target and Path(target).is_dir():
            raise UsageError(f"--{option}: {target}: is a directory (give a file name)")
        if target and not Path(target).parent.is_dir():
            raise UsageError(f"--{option}: {target}: the directory does not exist")
    problem = _directory_problem(Path(args.failures_dir))
    if problem is not None:
        raise UsageError(f"--failures-dir: {args.failures_dir}: {problem}")
    factory, label = engine_factory(args)
    config = RunConfig(profile=args.profile, seed=args.seed, examples=args.examples, steps=args.steps,
                       vectors=vectors_dir, run_vectors=not args.no_vectors, expected_failures=expected,
                       fail_on=args.fail_on, failures_dir=Path(args.failures_dir), engine_label=label,
                       vectors_label=text_name(args.vectors) if args.vectors else None, step_timeout=args.timeout)
    try:
        report = run(factory, config)
    except EngineFailure as exc:  # pragma: no cover - run() contains engine failures
        sys.stderr.write(f"hedgespec conform: {exc}\n")
        return EXIT_FAILED
    if args.json:
        Path(args.json).write_text(R.to_json(report), encoding="utf-8")
    if args.junit:
        Path(args.junit).write_text(R.to_junit(report), encoding="utf-8")
    if args.markdown:
        Path(args.markdown).write_text(R.to_markdown(report), encoding="utf-8")
    text = R.to_text(report)
    sys.stdout.write(text.splitlines()[-1] + "\n" if args.quiet else text)
    return int(report["summary"]["exit_status"])


def _directory_problem(path: Path) -> str | None:
    """Why ``path`` cannot be, or be made, a directory (a file in the way, a name too long), or None."""
    try:
        for place in (path, *path.parents):
            if place.exists():
                return None if place.is_dir() else (
                    "not a directory" if place == path else f"{place} is not a directory")
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def cmd_vectors(args: argparse.Namespace) -> int:
    from hedgespec.conformance import corpus
    from hedgespec.conformance.vectors import builtin_root
    from hedgespec.spec.profiles import builtin_profile_names

    if not getattr(args, "vectors_command", None):
        raise UsageError("an action is required: export DIR or verify [DIR]")
    profiles = tuple(args.profile) if args.profile else corpus.PROFILES
    for name in profiles:
        if name not in builtin_profile_names():
            raise UsageError(f"--profile: {name!r} is not a built-in profile ({', '.join(builtin_profile_names())})")
    if args.vectors_command == "export":
        root = Path(args.dir)
        if root.exists() and not root.is_dir():
            raise UsageError(f"{args.dir}: not a directory")
        written = corpus.export(root, profiles)
        count = sum(rel.endswith(".json") for rel in written)
        sys.stdout.write(f"wrote {count} vectors and {len(written) - count} {corpus.OMITTED} under {args.dir}\n")
        return EXIT_OK
    root = Path(args.dir) if args.dir else builtin_root()
    if args.dir and not root.is_dir():
        raise UsageError(f"{args.dir}: not a directory")
    result = corpus.verify(root, profiles)
    for line in result.lines():
        sys.stdout.write(line + "\n")
    sys.stdout.write("vectors: up to date\n" if result.ok else
                     "vectors: out of date (regenerate with: hedgespec vectors export DIR)\n")
    return EXIT_OK if result.ok else EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hedgespec")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    register(subparsers)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_usage(sys.stderr)
        return EXIT_USAGE
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
