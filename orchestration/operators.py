"""Operators that run the ``scripts/`` entrypoints in-process (no subprocess) inside Airflow tasks.

Each operator names an entrypoint module; ``execute()`` resolves the run's inputs once (``dag_run.conf``,
``portfolio.*`` Variables, Connections: a :class:`portfolio.run_inputs.RunInputs`), offers the entrypoint the
standard inputs its ``run()`` declares (``inputs``, run id, checkpoint pipeline id, ...), writes the seed's
``logs/cron/<dag_id>.log`` line and returns a small XCom summary (counts, paths, ids: never a data frame).
Nothing is passed through ``os.environ``.

Lineage: each operator reports the datasets its entrypoint reads and writes (``lineage.jobs``, bound to the
run by :mod:`orchestration.lineage_binding`) through the OpenLineage provider's
``get_openlineage_facets_on_start/complete/failure`` methods; they import OpenLineage only when called.
"""

from __future__ import annotations

import importlib
import inspect
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

from foundation import paths
from foundation.pipeline_logger import bind_context, utc_now_iso
from portfolio.checkpoint_manager import safe_name
from portfolio.run_scope import bound
from scripts.entrypoint import run_logged

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

MAX_XCOM_CHARS = 16_000


def _compact(value: Any, depth: int = 0) -> Any:
    """Keep an XCom small and JSON-friendly: frames become their shape, long lists are cut."""
    if hasattr(value, "shape") and hasattr(value, "columns"):
        return {"rows": int(value.shape[0]), "columns": list(map(str, value.columns))[:20]}
    if isinstance(value, dict):
        return {str(k): _compact(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [_compact(v, depth + 1) for v in value[:50]]
        return [*items, f"... {len(value) - 50} more"] if len(value) > 50 else items
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def cron_log(dag_id: str, line: str) -> None:
    """Append one line to the seed's ``logs/cron/<dag_id>.log``."""
    target = paths.logs_dir() / "cron" / f"{safe_name(dag_id)}.log"
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("a", encoding="utf-8") as fh:
        fh.write(line.rstrip("\n") + "\n")


class PortfolioEntrypointOperator(BaseOperator):
    """Base: call ``<entrypoint>.run(**inputs)`` with the inputs its signature accepts."""

    entrypoint: ClassVar[str]
    function: ClassVar[str] = "run"
    core_mode: ClassVar[bool] = False
    template_fields: Sequence[str] = ("op_kwargs",)
    template_fields_renderers = {"op_kwargs": "json"}
    ui_color = "#e8f6f3"

    def __init__(self, *, op_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.op_kwargs = op_kwargs or {}
        self._lineage_result: Any = None
        self._lineage_error: BaseException | None = None

    @classmethod
    def lineage_job_of_class(cls) -> str:
        """The row of the lineage table of this operator class: ``<script>.<function>`` (a mapped task has only
        its class until it runs)."""
        return f"{cls.entrypoint.rsplit('.', 1)[-1]}.{cls.function}"

    @property
    def lineage_job(self) -> str:
        """This operator's row of the lineage table: ``<script>.<function>``."""
        return self.lineage_job_of_class()

    def lineage_tickers(self) -> list[str]:
        """The tickers this task instance works on, when it names them (else the run's whole universe)."""
        return []

    def _lineage(self, state: str, task_instance: Any = None) -> OperatorLineage | None:
        from orchestration.lineage_binding import for_operator_guarded

        return for_operator_guarded(self.lineage_job, self.lineage_tickers(), state, result=self._lineage_result,
                                    error=self._lineage_error, task_instance=task_instance)

    def get_openlineage_facets_on_start(self) -> OperatorLineage | None:
        """OpenLineage START: the datasets this entrypoint reads and writes."""
        return self._lineage("start")

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage | None:
        """OpenLineage COMPLETE: the datasets with what this run did (row counts, sources, versions, schemas)."""
        return self._lineage("complete", task_instance)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> OperatorLineage | None:
        """OpenLineage FAIL: the datasets, the redacted error, quality results of a rejection, dead letters."""
        return self._lineage("failure", task_instance)

    def standard_inputs(self, context: Context) -> dict[str, Any]:
        """Inputs offered to every entrypoint (only the ones its ``run()`` declares are passed)."""
        from orchestration.runtime import run_inputs

        inputs = run_inputs(context["dag_run"].conf, core=self.core_mode)
        ti = context["ti"]
        map_index = ti.map_index if ti.map_index is not None else -1
        map_part = f"__{map_index}" if map_index >= 0 else ""
        return {"inputs": inputs, "run_id": ti.run_id,
                "pipeline_id": f"{ti.dag_id}__{ti.run_id}__{ti.task_id}{map_part}"}

    def entrypoint_inputs(self, context: Context) -> dict[str, Any]:
        """Standard inputs overlaid with this operator's own (templated) ``op_kwargs``."""
        return {**self.standard_inputs(context), **self.op_kwargs}

    def execute(self, context: Context) -> Any:
        func = getattr(importlib.import_module(self.entrypoint), self.function)
        offered = self.entrypoint_inputs(context)
        signature = inspect.signature(func)
        takes_all = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
        kwargs = {k: v for k, v in offered.items() if takes_all or k in signature.parameters}
        ti = context["ti"]
        bind_context(dag_id=ti.dag_id, task_id=ti.task_id, run_id=ti.run_id, map_index=ti.map_index,
                     try_number=ti.try_number)
        where = f"{ti.dag_id}.{ti.task_id}[{ti.map_index}] run={ti.run_id} try={ti.try_number}"
        cron_log(ti.dag_id, f"{utc_now_iso()} START {where} {self.entrypoint}.{self.function}")
        try:  # bound also for an entrypoint that takes no parameters (its database is still the run's)
            with bound(offered.get("inputs")):
                summary = run_logged(self.entrypoint.rsplit(".", 1)[-1], func, kwargs)
        except Exception as exc:
            self._lineage_error = exc
            cron_log(ti.dag_id, f"{utc_now_iso()} FAILED {where} {type(exc).__name__}")
            raise
        result = _compact(summary)
        self._lineage_result = result
        text = json.dumps(result, default=str)
        cron_log(ti.dag_id, f"{utc_now_iso()} SUCCESS {where} {text[:300]}")
        return result if len(text) <= MAX_XCOM_CHARS else {"truncated": True, "keys": sorted(result)[:50]}


class TickerBatchOperator(PortfolioEntrypointOperator):
    """Base of the mapped batch operators: ``<entrypoint>.run_batch`` over the batch's ``tickers``; succeeds when
    some tickers fail, reports them in its result (``failed``) and warns about them in the task log, for the
    follow-up ``retry_failed`` to retry each alone."""

    function = "run_batch"
    template_fields = ("op_kwargs", "tickers")

    def __init__(self, *, tickers: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tickers = tickers

    def entrypoint_inputs(self, context: Context) -> dict[str, Any]:
        inputs = super().entrypoint_inputs(context)
        inputs["tickers"] = list(self.tickers)
        return inputs

    def execute(self, context: Context) -> Any:
        result = super().execute(context)
        failed = sorted((result or {}).get("failed") or {})
        if failed:
            self.log.warning("%d of %d tickers failed in this batch (retried by retry_failed): %s",
                             len(failed), len(self.tickers), ", ".join(failed))
        return result


class PortfolioETLBatchOperator(TickerBatchOperator):
    """Every stage of each ticker of one batch, in-process; succeeds when some tickers fail and reports them.

    Checkpoints are per ticker (``<dag_id>__<run_id>__<ticker>``, the ids :class:`PortfolioETLRetryOperator` uses),
    so the follow-up ``retry_failed`` resumes a failed ticker after its last completed stage.
    """

    entrypoint = "scripts.run_etl_pipeline"

    def __init__(self, *, tickers: Any, threads: int = 1, **kwargs: Any) -> None:
        super().__init__(tickers=tickers, **kwargs)
        self.threads = threads

    def lineage_tickers(self) -> list[str]:
        return list(self.tickers) if isinstance(self.tickers, (list, tuple)) else []

    def entrypoint_inputs(self, context: Context) -> dict[str, Any]:
        inputs = super().entrypoint_inputs(context)
        ti = context["ti"]
        inputs.update(threads=self.threads, pipeline_prefix=f"{ti.dag_id}__{ti.run_id}")
        return inputs


class PortfolioETLRetryOperator(PortfolioEntrypointOperator):
    """One ticker that failed in its batch, every stage from its checkpoint; Airflow retries it with backoff.

    A quality rejection is not retried (the same staged data fails the same rules): it fails at once.
    """

    entrypoint = "scripts.run_etl_pipeline"
    function = "run_stage"
    template_fields = ("op_kwargs", "ticker")

    def __init__(self, *, ticker: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ticker = ticker

    def lineage_tickers(self) -> list[str]:
        return [self.ticker] if isinstance(self.ticker, str) and self.ticker else []

    def entrypoint_inputs(self, context: Context) -> dict[str, Any]:
        inputs = super().entrypoint_inputs(context)
        ti = context["ti"]
        inputs.update(stage="all", ticker=self.ticker,
                      pipeline_id=f"{ti.dag_id}__{ti.run_id}__{self.ticker or 'all'}")
        return inputs

    def execute(self, context: Context) -> Any:
        from airflow.sdk.exceptions import AirflowFailException

        from portfolio.quality import DataQualityError

        try:
            return super().execute(context)
        except DataQualityError as exc:
            failure = AirflowFailException(f"{self.ticker}: rejected by the quality gate, not retried: {exc}")
            failure.__cause__ = exc
            self._lineage_error = failure  # final: no retry; lineage reads the broken rules from the cause
            raise failure from exc


class AutoTraderOperator(PortfolioEntrypointOperator):
    """One auto-trader cycle for one ticker (mapped) or for the whole universe."""

    entrypoint = "scripts.run_auto_trader"
    template_fields = ("op_kwargs", "ticker")

    def __init__(self, *, ticker: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ticker = ticker

    def lineage_tickers(self) -> list[str]:
        return [self.ticker] if isinstance(self.ticker, str) and self.ticker else []

    def entrypoint_inputs(self, context: Context) -> dict[str, Any]:
        inputs = super().entrypoint_inputs(context)
        if self.ticker:
            inputs["ticker"] = self.ticker
        inputs["core_mode"] = self.core_mode
        return inputs


class CoreAutoTraderOperator(AutoTraderOperator):
    """Auto-trader cycle in ``--core-mode`` (core tickers, trade-count gating)."""

    core_mode = True


class AutoTraderBatchOperator(TickerBatchOperator):
    """One auto-trader cycle over a batch of tickers (mapped); a failed ticker is retried alone by an
    :class:`AutoTraderOperator` of ``retry_failed``."""

    entrypoint = "scripts.run_auto_trader"

    def entrypoint_inputs(self, context: Context) -> dict[str, Any]:
        inputs = super().entrypoint_inputs(context)
        inputs["core_mode"] = self.core_mode
        return inputs


class CoreAutoTraderBatchOperator(AutoTraderBatchOperator):
    """A batch of the core cycle (``--core-mode``)."""

    core_mode = True


class MonitoringOperator(PortfolioEntrypointOperator):
    """Forecaster and system monitoring (``monitor_llm_system``)."""

    entrypoint = "scripts.monitor_llm_system"


class BackfillOperator(PortfolioEntrypointOperator):
    """Nightly signal validation backfill."""

    entrypoint = "scripts.backfill_signal_validation"


class SyntheticDataOperator(PortfolioEntrypointOperator):
    """Generate a new synthetic dataset and move the ``latest`` pointer."""

    entrypoint = "scripts.generate_synthetic_dataset"


class TSThresholdSweepOperator(PortfolioEntrypointOperator):
    """Weekly sweep of (confidence_threshold, min_expected_return)."""

    entrypoint = "scripts.sweep_ts_thresholds"


class TransactionCostOperator(PortfolioEntrypointOperator):
    """Monthly transaction-cost estimation."""

    entrypoint = "scripts.estimate_transaction_costs"


class StrategyOptimizationOperator(PortfolioEntrypointOperator):
    """Seeded stochastic search over signal and sizing parameters."""

    entrypoint = "scripts.run_strategy_optimization"


class QuantValidationOperator(PortfolioEntrypointOperator):
    """GREEN / YELLOW / RED quant validation health."""

    entrypoint = "scripts.check_quant_validation_health"


class SleeveMaintenanceOperator(PortfolioEntrypointOperator):
    """Weekly sleeve maintenance (the seed's bash job, now Python)."""

    entrypoint = "scripts.weekly_sleeve_maintenance"


class SanitizeOperator(PortfolioEntrypointOperator):
    """Prune caches, rotated logs, checkpoints, staging files and old backups."""

    entrypoint = "scripts.sanitize_cache_and_logs"
