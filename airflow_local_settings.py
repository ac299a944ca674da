"""Airflow local settings of the project (Airflow imports this module by name from ``sys.path``).

Only one override: component logs are configured with secrets masking (``listeners/log_masking.py``).
"""

from __future__ import annotations

from listeners.log_masking import configure_logging

__all__ = ["configure_logging"]
