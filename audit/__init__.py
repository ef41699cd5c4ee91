"""hedgespec.audit: did a venue obey the hedge-mode rules for this account, and where did it not?

* ``hedgespec.audit.trace``: the trace format (version 1), its validator and JSON Schema;
* ``hedgespec.audit.importers``: venue exports (Binance, Bybit, OKX, ccxt) to traces;
* ``hedgespec.audit.engine``: the streaming audit (``audit_file``, ``audit_stream``, ``Auditor``);
* ``hedgespec.audit.report``: text, JSON and Markdown reports;
* ``hedgespec.audit.synth`` and ``hedgespec.audit.model_trace``: synthetic and reference-model traces;
* ``hedgespec.audit.cli``: the ``import`` and ``audit`` commands (``register(subparsers)``).

Reference: docs/audit/trace-format.md and docs/audit/guide.md.
"""

from __future__ import annotations

from .engine import Auditor, AuditResult, audit_file, audit_lines, audit_stream
from .trace import TRACE_VERSION

__all__ = ["AuditResult", "Auditor", "TRACE_VERSION", "audit_file", "audit_lines", "audit_stream"]
