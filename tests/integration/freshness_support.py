"""Record Asset events at pinned instants in the session stack's metadata database.

``python -m tests.integration.freshness_support '<json>'`` runs with the stack's environment. Each request names an
asset (``asset``: its name) and an instant (``at``, ISO-8601); the event goes through Airflow's own
``AssetManager.register_asset_change`` (as an API-created event: the listeners hear of it, unpaused consumer DAGs
are queued) and only its ``timestamp`` is then set to the pinned instant, so that holidays and trading days of
the past can be replayed. The asset must be known to the stack (a parsed DAG declares it). Prints one JSON line per
event.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any


def _asset_model(session: Any, name: str) -> Any:
    """The ``AssetModel`` named ``name`` (the test waits until the dag-processor has declared it)."""
    from airflow.models.asset import AssetModel
    from sqlalchemy import select

    found = session.scalar(select(AssetModel).where(AssetModel.name == name))
    if found is None:
        raise SystemExit(f"asset {name!r} is not known to the stack")
    return found


def record_event(request: dict[str, Any]) -> dict[str, Any]:
    """One asset event, registered by Airflow and stamped with the pinned instant."""
    from airflow.assets.manager import AssetManager
    from airflow.utils.session import create_session

    at = datetime.fromisoformat(request["at"])
    with create_session() as session:
        asset = _asset_model(session, request["asset"])
        event = AssetManager.register_asset_change(asset=asset, session=session, source_is_api=True,
                                                   extra={"pinned_for": "freshness test"})
        assert event is not None, f"no event recorded for {request['asset']}"
        event.timestamp = at
        session.flush()
        return {"asset": request["asset"], "id": event.id, "timestamp": event.timestamp.isoformat()}


def main(argv: list[str]) -> int:
    """Record every event of the JSON list in ``argv[0]``."""
    for request in json.loads(argv[0]):
        print(json.dumps(record_event(request)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
