"""Outbox state transitions: plan deliveries, claim due ones, send or reconcile them, record the outcome.

A delivery moves ``pending -> sending -> delivered | pending (retry, backoff) | dead_letter``. Claiming is
one conditional UPDATE, so a delivery is sent by one worker at a time; a ``sending`` row left behind by a
dead worker becomes ``in_doubt`` and is reconciled with the channel before anything is resent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from alerts.incident import RESOLVES, Incident
from alerts.outbox import DEAD_LETTER, DELIVERED, NOT_CONFIGURED, PENDING, SENDING, Outbox
from alerts.router import resolution_targets, route

if TYPE_CHECKING:
    from alerts.alerting_config import AlertingConfig
    from alerts.channels import Channel, Outcome


@dataclass(frozen=True)
class Claim:
    """One delivery this worker is sending now."""

    delivery_id: int
    incident_id: int
    incident: Incident
    channel: str
    action: str
    attempts: int
    in_doubt: bool
    created_at: float
    submitted_at: float
    previous_sending_since: float | None

    @property
    def delivery_key(self) -> str:
        """Stable identity of this delivery across workers and restarts (used for reconciliation)."""
        return f"{self.incident.kind}|{self.incident.dedup_key}|{self.channel}|{self.action}"


def _metrics() -> Any:
    from foundation.metrics import get_client

    return get_client()


def _log() -> Any:
    from foundation.pipeline_logger import get_logger

    return get_logger("alerts")


class Deliverer:
    """Plans, claims and finishes deliveries for one outbox."""

    def __init__(
        self, outbox: Outbox, config: AlertingConfig, channels: dict[str, Channel], owner: str
    ) -> None:
        self.outbox, self.config, self.channels, self.owner = outbox, config, channels, owner

    # -- planning ------------------------------------------------------------------------------------------
    def plan(self, limit: int = 200) -> int:
        """Create the deliveries of newly submitted incidents; return how many incidents were routed."""
        with self.outbox.connect() as conn:
            rows = conn.execute(
                "SELECT id, payload FROM incidents WHERE routed_at IS NULL ORDER BY id LIMIT ?", (limit,)
            ).fetchall()
        for row in rows:
            incident = Incident.from_json(row["payload"])
            now = time.time()
            with self.outbox.transaction() as conn:
                targets = self._targets(conn, incident)
                for channel, action, depends_on in targets:
                    conn.execute(
                        "INSERT OR IGNORE INTO deliveries (incident_id, channel, action, status, "
                        "next_attempt_at, depends_on, created_at) VALUES (?,?,?,?,?,?,?)",
                        (row["id"], channel, action, PENDING, now, depends_on, now),
                    )
                conn.execute("UPDATE incidents SET routed_at = ? WHERE id = ?", (now, row["id"]))
            _log().log_event(
                "alert_routed",
                incident_id=row["id"],
                kind=incident.kind,
                dedup_key=incident.dedup_key,
                severity=incident.severity,
                channels=[f"{c}:{a}" for c, a, _ in targets],
            )
        return len(rows)

    def _targets(self, conn: Any, incident: Incident) -> list[tuple[str, str, int | None]]:
        if incident.kind in RESOLVES:
            return list(resolution_targets(conn, incident, self.config))
        return [(c, a, None) for c, a in route(incident, self.config)]

    # -- claiming ------------------------------------------------------------------------------------------
    def take_over_in_doubt(self) -> int:
        """Mark ``sending`` rows of other (dead) workers as in doubt and due now; return how many."""
        with self.outbox.transaction() as conn:
            cur = conn.execute(
                "UPDATE deliveries SET status = ?, in_doubt = 1, next_attempt_at = ?, lease_owner = NULL "
                "WHERE status = ? AND (lease_owner IS NULL OR lease_owner != ?)",
                (PENDING, time.time(), SENDING, self.owner),
            )
        if cur.rowcount:
            _log().log_event(
                "alert_deliveries_in_doubt", level="warning", count=cur.rowcount, owner=self.owner
            )
        return cur.rowcount

    def release(self, delivery_id: int) -> None:
        """Give back a claimed delivery whose attempt broke off: pending again, in doubt, due now."""
        with self.outbox.transaction() as conn:
            conn.execute(
                "UPDATE deliveries SET status = ?, in_doubt = 1, next_attempt_at = ?, lease_owner = NULL "
                "WHERE id = ? AND status = ? AND lease_owner = ?",
                (PENDING, time.time() + 1.0, delivery_id, SENDING, self.owner),
            )

    def claim_due(self, limit: int, exclude: set[int] | None = None) -> list[Claim]:
        """Atomically take up to ``limit`` due deliveries whose dependency (trigger before resolve) is met."""
        if limit <= 0:
            return []
        now = time.time()
        claims: list[Claim] = []
        with self.outbox.transaction() as conn:
            rows = conn.execute(
                "SELECT d.*, i.payload, i.submitted_at FROM deliveries d "
                "JOIN incidents i ON i.id = d.incident_id LEFT JOIN deliveries dep ON dep.id = d.depends_on "
                "WHERE d.status = ? AND d.next_attempt_at <= ? "
                "AND (d.depends_on IS NULL OR dep.status IN (?, ?, ?)) ORDER BY d.next_attempt_at, d.id LIMIT ?",
                (PENDING, now, DELIVERED, DEAD_LETTER, NOT_CONFIGURED, limit + len(exclude or ())),
            ).fetchall()
            for row in rows:
                if exclude and row["id"] in exclude:
                    continue
                if len(claims) >= limit:
                    break
                conn.execute(
                    "UPDATE deliveries SET status = ?, lease_owner = ?, lease_until = ?, sending_since = ?, "
                    "attempts = attempts + 1 WHERE id = ? AND status = ?",
                    (SENDING, self.owner, now + self.config.worker.lease_seconds, now, row["id"], PENDING),
                )
                claims.append(
                    Claim(
                        row["id"],
                        row["incident_id"],
                        Incident.from_json(row["payload"]),
                        row["channel"],
                        row["action"],
                        row["attempts"] + 1,
                        bool(row["in_doubt"]),
                        row["created_at"],
                        row["submitted_at"],
                        row["sending_since"],
                    )
                )
        return claims

    # -- executing -----------------------------------------------------------------------------------------
    def execute(self, claim: Claim) -> str:
        """Reconcile (if in doubt) or send, then record the outcome; return the result name."""
        from alerts.channels import Outcome

        channel = self.channels.get(claim.channel)
        if channel is None:
            return self.finish(
                claim, Outcome("dead_letter", f"channel {claim.channel!r} is no longer configured")
            )
        if claim.in_doubt:
            since = claim.previous_sending_since or claim.created_at
            seen = channel.reconcile(claim.incident, claim.action, claim.delivery_key, since)
            if seen is True:
                return self.finish(claim, Outcome("delivered", "reconciled: it arrived before the crash"))
            if seen is None:
                return self.finish(claim, Outcome("retry", "in doubt and the channel cannot be checked yet"))
        return self.finish(claim, channel.send(claim.incident, claim.action, claim.delivery_key))

    def finish(self, claim: Claim, outcome: Outcome) -> str:
        """Store ``outcome`` for a claimed delivery; emit its metric and event."""
        now = time.time()
        result = outcome.result
        if result == "retry" and now - claim.created_at > self.config.retry.max_age_hours * 3600:
            result, reason = "dead_letter", f"expired after {claim.attempts} attempts; last: {outcome.reason}"
        else:
            reason = outcome.reason
        with self.outbox.transaction() as conn:
            if result == "delivered":
                conn.execute(
                    "UPDATE deliveries SET status = ?, delivered_at = ?, lease_owner = NULL, in_doubt = 0, "
                    "last_error = ? WHERE id = ?",
                    (DELIVERED, now, reason or None, claim.delivery_id),
                )
            elif result == "retry":
                conn.execute(
                    "UPDATE deliveries SET status = ?, next_attempt_at = ?, lease_owner = NULL, "
                    "last_error = ?, in_doubt = ? WHERE id = ?",
                    (
                        PENDING,
                        now + self.config.retry.delay(claim.attempts),
                        reason,
                        int(outcome.maybe_sent or (claim.in_doubt and reason.startswith("in doubt"))),
                        claim.delivery_id,
                    ),
                )
            else:  # dead_letter, or not_configured (terminal too: nothing to retry until credentials exist)
                conn.execute(
                    "UPDATE deliveries SET status = ?, lease_owner = NULL, in_doubt = 0, last_error = ? "
                    "WHERE id = ?",
                    (NOT_CONFIGURED if result == NOT_CONFIGURED else DEAD_LETTER, reason, claim.delivery_id),
                )
        self._report(claim, result, reason, now, outcome.status)
        return result

    def _report(self, claim: Claim, result: str, reason: str, now: float, status: int | None) -> None:
        try:
            _metrics().incr("alerts.delivery", tags={"channel": claim.channel, "result": result})
            fields = dict(
                incident_id=claim.incident_id,
                delivery_id=claim.delivery_id,
                channel=claim.channel,
                action=claim.action,
                kind=claim.incident.kind,
                dedup_key=claim.incident.dedup_key,
                attempts=claim.attempts,
                status=status,
                reason=reason or None,
            )
            if result == "delivered":
                latency = now - claim.submitted_at
                _metrics().timing("alerts.delivery_latency", latency * 1000, tags={"channel": claim.channel})
                _log().log_event("alert_delivered", latency_seconds=round(latency, 3), **fields)
            elif result == "retry":
                _log().log_event("alert_delivery_retry", level="warning", **fields)
            elif result == NOT_CONFIGURED:
                _log().log_event("alert_channel_not_configured", **fields)
            else:
                _log().error("alert_dead_letter", **fields)
        except Exception:
            pass

    def replay_dead_letters(self, ids: list[int] | None = None, status: str = DEAD_LETTER) -> int:
        """Requeue dead-lettered deliveries (all, or ``ids``) with a fresh age; return how many.

        ``status=not_configured`` requeues the deliveries of channels that had no credentials (once added).
        """
        now = time.time()
        with self.outbox.transaction() as conn:
            where, args = (
                ("status = ?", [status])
                if not ids
                else (f"status = ? AND id IN ({','.join('?' * len(ids))})", [status, *ids])
            )
            cur = conn.execute(
                f"UPDATE deliveries SET status = '{PENDING}', next_attempt_at = ?, created_at = ?, "
                f"attempts = 0 WHERE {where}",
                [now, now, *args],
            )
        return cur.rowcount
