"""The facets the pipeline adds to its datasets and runs, built from plain values.

OpenLineage classes are imported inside the functions: DAG files import the operators, and nothing of
OpenLineage may load at parse time. Free text (error messages) goes through :func:`foundation.scrub.scrub`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from foundation.redaction import bounded
from foundation.scrub import scrub

if TYPE_CHECKING:
    from openlineage.client.generated.base import DatasetFacet, InputDatasetFacet, OutputDatasetFacet, RunFacet

MAX_ERROR_CHARS = 2000


def schema(columns: Iterable[tuple[str, str]]) -> DatasetFacet:
    """``schema``: the columns (name, SQL type) of a table, in order."""
    from openlineage.client.facet_v2 import schema_dataset

    fields = [schema_dataset.SchemaDatasetFacetFields(name=name, type=kind or None, ordinal_position=position)
              for position, (name, kind) in enumerate(columns, start=1)]
    return schema_dataset.SchemaDatasetFacet(fields=fields)


def version(value: str) -> DatasetFacet:
    """``version``: the dataset's version (a synthetic dataset id, a content hash)."""
    from openlineage.client.facet_v2 import dataset_version_dataset

    return dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=str(value))


def output_statistics(rows: int | None = None, files: int | None = None) -> OutputDatasetFacet:
    """``outputStatistics``: rows (and files) written by this run."""
    from openlineage.client.facet_v2 import output_statistics_output_dataset

    return output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
        rowCount=None if rows is None else int(rows), fileCount=None if files is None else int(files))


def quality_assertions(results: Mapping[str, bool]) -> InputDatasetFacet:
    """``dataQualityAssertions``: one assertion per rule, ``success`` False when the rule found issues."""
    from openlineage.client.facet_v2 import data_quality_assertions_dataset as dq

    return dq.DataQualityAssertionsDatasetFacet(
        assertions=[dq.Assertion(assertion=rule, success=bool(ok), severity="error")
                    for rule, ok in results.items()])


def error_message(text: str) -> RunFacet:
    """``errorMessage``: the failure, secrets redacted and bounded (no stack trace: it can quote locals)."""
    from openlineage.client.facet_v2 import error_message_run

    return error_message_run.ErrorMessageRunFacet(message=bounded(scrub(text), MAX_ERROR_CHARS),
                                                  programmingLanguage="python")
