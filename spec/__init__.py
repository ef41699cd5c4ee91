"""The hedge-mode rulebook: rules with stable IDs, their checks, profiles and the seed clauses."""

SPEC_VERSION = "1.3.0"
