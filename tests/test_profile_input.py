"""Profile input: an empty ``--profile`` is refused by every command; a profile file's ``reason_codes`` are checked."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hedgespec.spec.profiles import ProfileError, builtin_profile_names, load_profile

from hedgespec.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "hedge_round_trip.json"


def one_error_line(code: int, err: str) -> str:
    assert code == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


# ---------------------------------------------------------------- 4. --profile ""


@pytest.mark.parametrize("blank", ["", "  "])
@pytest.mark.parametrize("command", ["simulate", "audit", "conform"])
def test_an_empty_profile_name_is_refused_by_every_command(command: str, blank: str, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    argv = {"simulate": ["simulate", "--profile", blank, str(EXAMPLE)],
            "audit": ["audit", "--profile", blank, str(tmp_path / "t.jsonl")],
            "conform": ["conform", "--profile", blank]}[command]
    if command == "audit":
        (tmp_path / "t.jsonl").write_text(json.dumps({"v": 1, "type": "meta", "t": None, "venue": "x"}) + "\n")
    code = main(argv)
    out, err = capsys.readouterr()
    line = one_error_line(code, err)  # before (simulate, audit): the default profile, exit 0
    empty = "an empty profile name" if not blank else "a blank profile name (spaces only)"
    assert line.startswith(f"hedgespec {command}: {empty}: give a built-in profile (seed")
    assert "or a profile file" in line


def test_the_default_profile_still_applies_without_the_option(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", str(EXAMPLE)]) == 0
    assert "profile: seed" in capsys.readouterr().out


# ---------------------------------------------------------------- 5. reason_codes


def _profile_file(tmp_path: Path, reason_codes: Any) -> str:
    doc = {"profile_format": "1", "name": "mine", "extends": "binance-usdm", "choices": {},
           "reason_codes": reason_codes}
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(doc))
    return str(path)


GOOD = {"code": "-4068", "message": "Position side cannot be changed if there exists position.",
        "status": "documented", "source": "B-MODE"}


def _with(**changes: Any) -> dict[str, Any]:
    entry = copy.deepcopy(GOOD)
    for key, value in changes.items():
        if value == "(missing)":
            entry.pop(key)
        else:
            entry[key] = value
    return entry


@pytest.mark.parametrize(("reason_codes", "where", "what"), [
    ({"NOT_A_REASON": {"bogus": [1, 2]}}, "reason_codes.NOT_A_REASON", "unknown reason class (known: "),
    ({"MODE_IN_FORCE": [1, 2]}, "reason_codes.MODE_IN_FORCE", "expected an object with code, message, status, source"),
    ({"MODE_IN_FORCE": _with(bogus=1)}, "reason_codes.MODE_IN_FORCE.bogus", "unknown field"),
    ({"MODE_IN_FORCE": _with(status="(missing)")}, "reason_codes.MODE_IN_FORCE", "missing field 'status'"),
    ({"MODE_IN_FORCE": _with(status="maybe")}, "reason_codes.MODE_IN_FORCE.status", "must be one of"),
    ({"MODE_IN_FORCE": _with(source="")}, "reason_codes.MODE_IN_FORCE.source", "a non-empty string is required"),
    ({"MODE_IN_FORCE": _with(code=-4059)}, "reason_codes.MODE_IN_FORCE.code", "a non-empty string or null"),
    ({"MODE_IN_FORCE": _with(code="")}, "reason_codes.MODE_IN_FORCE.code", "a non-empty string or null"),
    ({"MODE_IN_FORCE": _with(code=None)}, "reason_codes.MODE_IN_FORCE.code", "a documented entry needs"),
    ({"MODE_IN_FORCE": _with(message=5)}, "reason_codes.MODE_IN_FORCE.message", "a string or null"),
    ({"MODE_IN_FORCE": _with(note=[])}, "reason_codes.MODE_IN_FORCE.note", "a string is required"),
    ({"MODE_IN_FORCE": _with(observed="x")}, "reason_codes.MODE_IN_FORCE.observed", "expected an object"),
    ({"MODE_IN_FORCE": _with(observed={"code": "1", "message": None})}, "reason_codes.MODE_IN_FORCE.observed",
     "missing field 'source'"),
    ({"MODE_IN_FORCE": _with(observed={"code": "1", "message": None, "source": "S", "x": 1})},
     "reason_codes.MODE_IN_FORCE.observed.x", "unknown field"),
    ({"MODE_IN_FORCE": _with(observed={"code": None, "message": None, "source": "S"})},
     "reason_codes.MODE_IN_FORCE.observed.code", "the observed code is required"),
])
def test_malformed_reason_codes_are_refused_naming_the_entry(tmp_path: Path, reason_codes: Any, where: str,
                                                             what: str) -> None:
    path = _profile_file(tmp_path, reason_codes)
    with pytest.raises(ProfileError) as info:
        load_profile(path)  # before: accepted
    message = str(info.value)
    assert message.startswith(f"{path}: {where}: ") and what in message, message


def test_the_cli_refuses_a_profile_with_an_unknown_reason_in_one_line(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = _profile_file(tmp_path, {"NOT_A_REASON": {"bogus": [1, 2]}})
    code = main(["simulate", "--profile", path, str(EXAMPLE)])
    line = one_error_line(code, capsys.readouterr().err)
    assert line.startswith(f"hedgespec simulate: {path}: reason_codes.NOT_A_REASON: unknown reason class")


def test_well_formed_reason_codes_are_kept(tmp_path: Path) -> None:
    codes = {"MODE_SWITCH_WITH_POSITIONS": GOOD,
             "MODE_IN_FORCE": {"code": None, "message": None, "status": "unconfirmed", "source": "S", "note": "n"},
             "REDUCE_ONLY_FORBIDDEN": _with(observed={"code": "-1106", "message": "m", "source": "GH"})}
    assert load_profile(_profile_file(tmp_path, codes)).reason_codes == codes


@pytest.mark.parametrize("name", builtin_profile_names())
def test_the_shipped_profiles_reason_codes_pass_the_check(name: str) -> None:
    assert load_profile(name).reason_codes is not None
