#!/usr/bin/env bash
# The compiled build of the reference model (setup.py, HEDGESPEC_COMPILE=1): build it with mypyc into a
# venv of its own, show that it is the same model, and time it.
#
#   bash .ci/compiled_model.sh            (from the repository root; PYTHON defaults to python3)
#
# 1. Builds and installs hedgespec with the model compiled (pip install --no-build-isolation .).
# 2. Fails unless hedgespec.model.BUILD says "compiled".
# 3. Runs, against the compiled model, the tests that step it without patching it: the step-by-step
#    comparison with the interpreted model over random runs of every profile, with purity, copies and
#    the refusal of the mutants that replace model functions (tests/test_compiled_model.py, with
#    HEDGESPEC_EXPECT_COMPILED=1 so that it cannot skip), the worked examples, the model's stateful
#    test, the vectors, the differential runs and the open profile choices. (Tests that replace the
#    model's functions stay with the interpreted build: the compiled one calls them directly.)
# 4. hedgespec vectors verify and hedgespec conform with the compiled model as the reference.
# 5. Prints bench/bench_model.py's figures for the compiled model (printed, not asserted).
set -euo pipefail
exec </dev/null

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/hedgespec-compiled.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_ROOT_USER_ACTION=ignore

"$PYTHON" -m venv "$WORK/venv"
BIN="$WORK/venv/bin"
"$BIN/pip" install --quiet --upgrade pip
"$BIN/pip" install --quiet "mypy==2.4.1" "setuptools>=68" wheel
HEDGESPEC_COMPILE=1 "$BIN/pip" install --quiet --no-build-isolation "$ROOT[test,fast]"

# Outside the repository root: its hedgespec/ folder would stand in for the installed package.
cd "$WORK"
"$BIN/python" -c '
import hedgespec.model as model
assert model.BUILD == "compiled", f"hedgespec.model is {model.BUILD}, not compiled"
print(f"hedgespec.model: {model.BUILD} ({model.step!r})")'
"$BIN/hedgespec" vectors verify "$ROOT/conformance/vectors"
"$BIN/hedgespec" conform

cd "$ROOT"
HEDGESPEC_EXPECT_COMPILED=1 "$BIN/pytest" -q -m "not slow" -p no:cacheprovider \
    tests/test_compiled_model.py tests/test_worked_examples.py tests/test_codec.py tests/test_model_state.py \
    tests/test_stateful_model.py tests/test_cross_liquidation_price.py tests/test_partial_liquidation.py \
    tests/test_cross_offset.py tests/test_switch_back.py tests/test_action_format.py tests/test_venue_behaviour.py \
    tests/test_okx_reference_regressions.py tests/test_order_format.py tests/test_unmodelled_choices.py \
    tests/test_unreported_mode.py tests/test_clearance_fee_checks.py tests/test_profile_input.py \
    tests/conformance/test_vectors.py tests/conformance/test_js_engine.py tests/conformance/test_machine.py \
    tests/conformance/test_runner.py tests/conformance/test_open_choices_in_runs.py \
    tests/conformance/test_open_choices_in_vectors.py tests/conformance/test_profile_file_vectors.py \
    tests/conformance/test_faulty_engines.py

"$BIN/python" bench/bench_model.py --runs 5 --top 0
