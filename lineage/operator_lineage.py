"""Turn a job's row of :data:`lineage.jobs.JOBS` and what its run observed into an ``OperatorLineage``.

The pipeline fills an :class:`Observed` (tickers, the provider of each ticker, row counts, versions, quality
results, the error) and hands the table schemas it knows; this module names the datasets
(:mod:`lineage.datasets`) and attaches the facets (:mod:`lineage.facets`). It knows no domain code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lineage import datasets, facets
from lineage.jobs import DEAD_LETTERS, MARKET_DATA, SYNTHETIC, job_datasets

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.event_v2 import InputDataset, OutputDataset

Columns = Sequence[tuple[str, str]]


@dataclass
class Observed:
    """What one run of a job did, in names and numbers (all optional)."""

    tickers: Sequence[str] = ()
    providers: Mapping[str, str] = field(default_factory=dict)   # ticker -> provider it was fetched from
    rows: Mapping[str, int] = field(default_factory=dict)        # written spec -> rows written
    versions: Mapping[str, str] = field(default_factory=dict)    # spec -> dataset version
    quality: Mapping[str, bool] = field(default_factory=dict)    # rule -> passed (on the db/ohlcv read)
    error: str | None = None
    dead_lettered: bool = False                                  # the failure was final: a dead letter row


def expand(spec: str, observed: Observed, namespace: str | None = None) -> list[datasets.DatasetName]:
    """The datasets a spec stands for in this run (a placeholder gives one per ticker, or none)."""
    if spec == MARKET_DATA:
        return [datasets.market_data(observed.providers[t], t, namespace)
                for t in observed.tickers if observed.providers.get(t)]
    if spec == SYNTHETIC:
        return [datasets.synthetic(t, namespace) for t in observed.tickers]
    return [datasets.named(spec, namespace)]


def _dataset_facets(spec: str, name: datasets.DatasetName, schemas: Mapping[str, Columns],
                    observed: Observed) -> dict[str, Any]:
    out: dict[str, Any] = {}
    table = datasets.table_of(name)
    if table and schemas.get(table):
        out["schema"] = facets.schema(schemas[table])
    if spec in observed.versions:
        out["version"] = facets.version(observed.versions[spec])
    return out


def inputs(job: str, observed: Observed, schemas: Mapping[str, Columns],
           namespace: str | None = None) -> list[InputDataset]:
    """The input datasets of ``job`` in this run, with their facets."""
    from openlineage.client.event_v2 import InputDataset

    out: list[InputDataset] = []
    for spec in job_datasets(job).reads:
        for name in expand(spec, observed, namespace):
            input_facets = {}
            if spec == "db/ohlcv" and observed.quality:
                input_facets["dataQualityAssertions"] = facets.quality_assertions(observed.quality)
            out.append(InputDataset(namespace=name.namespace, name=name.name,
                                    facets=_dataset_facets(spec, name, schemas, observed),
                                    inputFacets=input_facets))
    return out


def outputs(job: str, observed: Observed, schemas: Mapping[str, Columns],
            namespace: str | None = None) -> list[OutputDataset]:
    """The output datasets of ``job`` in this run, with their facets."""
    from openlineage.client.event_v2 import OutputDataset

    specs = list(job_datasets(job).writes)
    if observed.dead_lettered and DEAD_LETTERS not in specs:
        specs.append(DEAD_LETTERS)
    out: list[OutputDataset] = []
    for spec in specs:
        for name in expand(spec, observed, namespace):
            output_facets = {}
            if spec in observed.rows:
                output_facets["outputStatistics"] = facets.output_statistics(observed.rows[spec])
            out.append(OutputDataset(namespace=name.namespace, name=name.name,
                                     facets=_dataset_facets(spec, name, schemas, observed),
                                     outputFacets=output_facets))
    return out


def operator_lineage(job: str, observed: Observed, schemas: Mapping[str, Columns] | None = None,
                     namespace: str | None = None) -> OperatorLineage:
    """The provider's ``OperatorLineage`` of one run of ``job`` (``errorMessage`` when it failed)."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    schemas = schemas or {}
    run_facets = {"errorMessage": facets.error_message(observed.error)} if observed.error else {}
    return OperatorLineage(inputs=inputs(job, observed, schemas, namespace),
                           outputs=outputs(job, observed, schemas, namespace), run_facets=run_facets)
