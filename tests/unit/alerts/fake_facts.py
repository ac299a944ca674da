"""A :class:`alerts.run_facts.RunFactSource` the tests fill by hand (no Airflow database)."""

from __future__ import annotations

from dataclasses import dataclass, field

from alerts.run_facts import PendingDeadline, PoolUse, RunFact


@dataclass
class FakeFacts:
    """Runs, history, graphs, pools and pending deadlines as the test sets them."""

    runs: dict[tuple[str, str], RunFact] = field(default_factory=dict)
    histories: dict[str, list[RunFact]] = field(default_factory=dict)
    graphs: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    pool_use: dict[str, PoolUse] = field(default_factory=dict)
    deadlines: list[PendingDeadline] = field(default_factory=list)

    def pending_deadlines(self, callback_path: str) -> list[PendingDeadline]:
        return list(self.deadlines)

    def run(self, dag_id: str, run_id: str) -> RunFact | None:
        return self.runs.get((dag_id, run_id))

    def history(self, dag_id: str, runs: int) -> list[RunFact]:
        return self.histories.get(dag_id, [])[:runs]

    def upstream(self, dag_id: str) -> dict[str, list[str]]:
        return self.graphs.get(dag_id, {})

    def pools(self) -> dict[str, PoolUse]:
        return dict(self.pool_use)

    def add(self, run: RunFact) -> RunFact:
        """Store ``run`` (replacing an earlier state of it)."""
        self.runs[(run.dag_id, run.run_id)] = run
        return run
