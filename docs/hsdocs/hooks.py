"""MkDocs hooks of the published rulebook."""

from __future__ import annotations

from typing import Any

from mkdocs.structure.files import Files, InclusionLevel


def on_files(files: Files, config: Any) -> Files:
    """The generated nav file (SUMMARY.md) feeds the navigation; it is not a page of its own."""
    summary = files.get_file_from_path("SUMMARY.md")
    if summary is not None:
        summary.inclusion = InclusionLevel.EXCLUDED
    return files
