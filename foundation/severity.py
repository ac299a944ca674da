"""How bad an incident, an SLA miss or an error-rate breach is: one vocabulary for routing and events."""

from __future__ import annotations

from typing import Literal, get_args

Severity = Literal["critical", "error", "warning", "info"]
SEVERITIES: tuple[str, ...] = get_args(Severity)  # most severe first
