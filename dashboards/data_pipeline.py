"""Data pipeline: rows ingested, quality failures, source failovers, freshness, forecasts produced."""

from __future__ import annotations

from dashboards.panels import DashboardBuilder, Query, thresholds

RATE = "$__rate_interval"
TICKER = 'ticker=~"$ticker"'


def build() -> object:
    """The *Data pipeline* dashboard."""
    board = DashboardBuilder(
        "pmx-data-pipeline",
        "Data pipeline",
        "Market-data ETL volume, quality and freshness, by ticker.",
        ["data", "etl"],
    )
    board.variable("ticker", "Ticker", "label_values(pmx_etl_rows_ingested_total, ticker)")

    board.row("Freshness")
    board.stat(
        "Data age",
        Query("pmx:etl_data_age_seconds", instant=True),
        unit="s",
        description="Time since the last successful ETL run; alert PmxEtlDataStale above 26 hours.",
        steps=thresholds((None, "green"), (86400, "orange"), (93600, "red")),
    )
    board.stat(
        "Rows ingested, last 24 h",
        Query(f"sum(increase(pmx_etl_rows_ingested_total{{{TICKER}}}[24h]))", instant=True),
    )
    board.stat(
        "Quality failures, last 24 h",
        Query(
            f"sum(increase(pmx_etl_quality_failures_total{{{TICKER}}}[24h])) or on() vector(0)", instant=True
        ),
        steps=thresholds((None, "green"), (1, "red")),
    )
    board.stat(
        "Source failovers, last 24 h",
        Query("sum(increase(pmx_etl_source_failovers_total[24h])) or on() vector(0)", instant=True),
        steps=thresholds((None, "green"), (1, "orange")),
    )

    board.row("Volume and quality")
    board.timeseries(
        "Rows ingested",
        [
            Query(
                f"sum by (ticker) (increase(pmx_etl_rows_ingested_total{{{TICKER}}}[{RATE}]))", "{{ticker}}"
            ),
        ],
        stacked=True,
    )
    board.timeseries(
        "Quality failures by rule",
        [
            Query(
                f"sum by (ticker, rule) (increase(pmx_etl_quality_failures_total{{{TICKER}}}[{RATE}])) "
                "or on() vector(0)",
                "{{ticker}} {{rule}}",
            ),
        ],
    )
    board.timeseries(
        "Quality failures in the last hour",
        [
            Query(f"pmx:etl_quality_failures:increase1h{{{TICKER}}}", "{{ticker}} {{rule}}"),
        ],
    )
    board.timeseries(
        "Data-source failovers",
        [
            Query(
                f"sum by (from_source, to_source) (increase(pmx_etl_source_failovers_total[{RATE}])) "
                "or on() vector(0)",
                "{{from_source}} -> {{to_source}}",
            ),
        ],
    )
    board.timeseries("Data age", [Query("pmx:etl_data_age_seconds", "since last ETL success")], unit="s")
    board.timeseries(
        "Forecasts produced",
        [
            Query(f"sum by (model) (increase(pmx_forecasts_total[{RATE}]))", "{{model}}"),
        ],
        stacked=True,
    )
    return board.build()
