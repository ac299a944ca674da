"""Who may see and acknowledge which SLA misses: Airflow's auth manager decides, per DAG (and for assets).

Reading the view needs read access to DAGs (Airflow's own ``requires_access_dag("GET")``: a user without a
role gets 403, as on Airflow's REST API), and the list holds only misses of DAGs the user may read.
Acknowledging a miss needs edit access (``PUT``) to that miss's DAG. A data freshness miss belongs to an asset,
not a DAG: it is listed to users who may read assets (``GET``) and acknowledged by those who may change them
(``POST``, what creating an asset event needs). Imported by :mod:`alerts.ui_app` only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any, Literal

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails
from airflow.api_fastapi.core_api.security import requires_access_dag
from airflow.configuration import conf
from fastapi import Request

Method = Literal["GET", "PUT"]
require_dag_read = requires_access_dag("GET")  # route dependency: 403 without read access to DAGs


def _team_names(dag_ids: list[str]) -> dict[str, str | None]:
    """DAG id -> team (multi-team deployments only; without teams every DAG has none)."""
    if not dag_ids or not conf.getboolean("core", "multi_team", fallback=False):
        return {}
    from airflow.models.dag import DagModel

    return DagModel.get_dag_id_to_team_name_mapping(dag_ids)


def permitted_dag_ids(user: Any, dag_ids: Iterable[str], method: Method = "GET") -> set[str]:
    """The subset of ``dag_ids`` on which ``user`` may perform ``method``."""
    wanted = sorted({d for d in dag_ids if d})
    teams = _team_names(wanted)
    by_team: dict[str | None, set[str]] = defaultdict(set)
    for dag_id in wanted:
        by_team[teams.get(dag_id)].add(dag_id)
    manager = get_auth_manager()
    allowed: set[str] = set()
    for team, ids in by_team.items():
        allowed |= manager.filter_authorized_dag_ids(dag_ids=ids, user=user, method=method, team_name=team)
    return allowed


def require_dag_edit(request: Request, user: Any, dag_id: str) -> None:
    """Raise 403 unless ``user`` may edit DAG ``dag_id`` (Airflow's check, team-aware)."""
    requires_access_dag("PUT", param_dag_id=dag_id)(request, user)


def may_use_assets(user: Any, method: Literal["GET", "POST"]) -> bool:
    """Whether ``user`` may read (``GET``) or change (``POST``) assets: the access a freshness miss needs."""
    return bool(get_auth_manager().is_authorized_asset(method=method, user=user))


def may_read_dag(user: Any, dag_id: str) -> bool:
    """Whether ``user`` may read DAG ``dag_id``."""
    team = _team_names([dag_id]).get(dag_id)
    return get_auth_manager().is_authorized_dag(
        method="GET", details=DagDetails(id=dag_id, team_name=team), user=user
    )
