"""Warm start for task processes: import the pipeline's heavy libraries and build the exchange calendar once.

Airflow's LocalExecutor forks every task from its worker processes. With ``[scheduler] mp_start_method =
forkserver`` and ``[core] mp_forkserver_preload = portfolio.preload`` (``config/airflow.yml``) those workers come
from a fork server that imported this module, so each task starts with numpy, pandas, statsmodels, arch and the
XNYS calendar already in memory (copy-on-write) instead of spending seconds of CPU importing and building them.
Importing this module has no other side effect: no files, sockets, threads or configuration are opened.
"""

from __future__ import annotations

import arch  # noqa: F401
import numpy  # noqa: F401
import pandas  # noqa: F401
import pandera.pandas  # noqa: F401
import statsmodels.api  # noqa: F401

from portfolio import broker, calendar, etl, forecasting, quality, signals, trader  # noqa: F401

calendar.get_calendar()
