"""What the reports and health checks (``monitoring/``) may read of the trading domain, and nothing more.

The seed's ``monitoring/performance_dashboard.py`` and the pipeline health checks are about the domain by
nature, so they read it; they do so through this one module (an import contract says so), never by reaching
into the domain's modules. Everything here is read-only use of the domain, or the domain's own maintenance
(checkpoint expiry, database backup) that a health check triggers, and the signal rule's backtest
(``portfolio.backtest``) on the stored or walk-forward panel.
"""

from __future__ import annotations

from portfolio import quant_health
from portfolio.backtest import signal_backtest
from portfolio.calendar import sessions_between
from portfolio.checkpoint_manager import CheckpointManager
from portfolio.data_sources.manager import DataSourceManager
from portfolio.database_manager import DatabaseManager
from portfolio.db_backend import Connection
from portfolio.quant_health import json_safe
from portfolio.settings import PipelineSettings, load_settings
from portfolio.signal_validation import HIT as SIGNAL_HIT

__all__ = [
    "SIGNAL_HIT",
    "CheckpointManager",
    "Connection",
    "DataSourceManager",
    "DatabaseManager",
    "PipelineSettings",
    "json_safe",
    "load_settings",
    "quant_health",
    "sessions_between",
    "signal_backtest",
]
