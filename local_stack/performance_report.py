"""The performance report with DAG statistics from the local stack's REST API (``make up``).

``python -m local_stack.performance_report [--output DIR] [--no-airflow] [--api-url URL] [--days N] [--png]``:
``monitoring.performance_dashboard`` with the local stack's client (``--api-url`` overrides its URL).
"""

from __future__ import annotations

import sys

from local_stack.local import local_api
from monitoring.performance_dashboard import main as report_main


def main(argv: list[str] | None = None) -> int:
    """CLI entry (exit codes of :func:`monitoring.performance_dashboard.main`)."""
    return report_main(argv, api_factory=local_api, prog="python -m local_stack.performance_report")


if __name__ == "__main__":
    sys.exit(main())
