"""Which rules are proved for the reference kernel, and by which CrossHair-confirmed conditions.

``spec/proved.txt`` (package data of ``hedgespec.spec``) lists the PEP 316 conditions of the
model's single-step kernels that the CrossHair gate (``.ci/crosshair_gate.py``) requires to be
"Confirmed over all paths"; each line ends with the rule IDs the condition states. A rule with at
least one listed condition is "proved for the reference kernel" (by those conditions) -- a claim
about the kernel functions under their preconditions, never about a venue or about ``step`` as a
whole; every other rule is "tested" (by its executable check, vectors and property tests). A condition
marked "only where <choice> is <value>" covers a kernel the model runs only under that profile choice;
it proves nothing for the other values, so it does not make its rules proved.
"""

from __future__ import annotations

import re
from importlib import resources

PROVED_FILE = "proved.txt"
RULE_ID = re.compile(r"HM-[A-Z]{2,5}-\d{3}")
QUALIFIER = re.compile(r"\bonly where ([a-z_]+) is ([\w.-]+)\s*$")

PROVED = "proved for the reference kernel"
TESTED = "tested"


def split_comment(text: str) -> tuple[str, str]:
    """(condition, trailing comment) of one line; a '#' inside a string literal is not a comment."""
    quote = ""
    for i, char in enumerate(text):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "#":
            return text[:i].rstrip(), text[i + 1:].strip()
    return text.rstrip(), ""


def parse_proved(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """The conditions of a ``proved.txt`` text: (``module:function: post: expr``, rule IDs), in order."""
    listed = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, comment = split_comment(line)
        listed.append((name, tuple(RULE_ID.findall(comment))))
    return listed


def proved_text() -> str:
    """The text of the installed ``spec/proved.txt``."""
    return resources.files("hedgespec.spec").joinpath(PROVED_FILE).read_text(encoding="utf-8")


def qualifiers(text: str) -> dict[str, str]:
    """Condition name -> "<choice> is <value>" for the conditions that hold only under one profile choice."""
    out = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, comment = split_comment(line)
        match = QUALIFIER.search(comment)
        if match:
            out[name] = f"{match.group(1)} is {match.group(2)}"
    return out


def proved_conditions() -> dict[str, list[str]]:
    """Rule ID -> the confirmed conditions that prove it for the reference kernel (sorted by rule ID).

    A condition that holds only under one profile choice ("only where <choice> is <value>") is left
    out: see ``conditionally_proved``.
    """
    text = proved_text()
    qualified = qualifiers(text)
    by_rule: dict[str, list[str]] = {}
    for name, rule_ids in parse_proved(text):
        if name in qualified:
            continue
        for rule_id in rule_ids:
            by_rule.setdefault(rule_id, []).append(name)
    return dict(sorted(by_rule.items()))


def conditionally_proved() -> dict[str, list[tuple[str, str]]]:
    """Rule ID -> (condition, "<choice> is <value>") for conditions confirmed for the kernel that runs only
    under that profile choice; they do not make the rule proved."""
    text = proved_text()
    qualified = qualifiers(text)
    by_rule: dict[str, list[tuple[str, str]]] = {}
    for name, rule_ids in parse_proved(text):
        if name in qualified:
            for rule_id in rule_ids:
                by_rule.setdefault(rule_id, []).append((name, qualified[name]))
    return dict(sorted(by_rule.items()))


def proof_status(rule_id: str) -> str:
    """"proved for the reference kernel" when a listed condition states the rule, else "tested"."""
    return PROVED if rule_id in proved_conditions() else TESTED
