"""Outbox state transitions: plan deliveries, claim due ones, send or reconcile them, record the outcome.

A delivery moves ``pending -> sending -> delivered | pending (retry, backoff) | dead_letter``. Claiming is
one conditional UPDATE, so a delivery is sent by one worker at a time; a ``sending`` row left behind by a
dead worker becomes ``in_doubt`` and is reconciled with the channel before anything is resent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from alerts.incident import RESOLVES, Incident
from alerts.outbox import DEAD_LETTER, NOT_CONFIGURED, Claim, Outbox, Target
from alerts.router import resolution_targets, route

if TYPE_CHECKING:
    from alerts.alerting_config import AlertingConfig
    from alerts.channels import Channel, Outcome

__all__ = ["Claim", "Deliverer"]


def _metrics() -> Any:
    from foundation.metrics import get_client

    return get_client()


def _log() -> Any:
    from foundation.pipeline_logger import get_logger

    return get_logger("alerts")


class Deliverer:
    """Plans, claims and finishes deliveries for one outbox."""

    def __init__(
        self, outbox: Outbox, config: AlertingConfig, channels: dict[str, Channel], owner: str,
        enrich: Callable[[Incident], Incident] | None = None,
    ) -> None:
        self.outbox, self.config, self.channels, self.owner = outbox, config, channels, owner
        self.enrich = enrich  # adds what the submitter could not know (an SLA miss's diagnosis) before routing

    # -- planning ------------------------------------------------------------------------------------------
    def plan(self, limit: int = 200) -> int:
        """Create the deliveries of newly submitted incidents; return how many incidents were routed."""
        pending = self.outbox.unrouted(limit)
        for incident_id, incident in pending:
            incident = self._enriched(incident_id, incident)
            targets = self.outbox.plan_deliveries(incident_id, incident, partial(self._targets, incident))
            _log().log_event(
                "alert_routed",
                incident_id=incident_id,
                kind=incident.kind,
                dedup_key=incident.dedup_key,
                severity=incident.severity,
                channels=[f"{c}:{a}" for c, a, _ in targets],
            )
        return len(pending)

    def _enriched(self, incident_id: int, incident: Incident) -> Incident:
        """``incident`` as :attr:`enrich` makes it (stored before routing); unchanged when that fails (counted)."""
        if self.enrich is None:
            return incident
        try:
            enriched = self.enrich(incident)
            if enriched is not incident:
                self.outbox.replace_payload(incident_id, enriched)
            return enriched
        except Exception as exc:
            from foundation.failures import report_failure

            report_failure("alerts", "diagnosis", exc, level="error", kind=incident.kind,
                           dedup_key=incident.dedup_key, dag_id=incident.dag_id)
            return incident

    def _targets(self, incident: Incident, closed: list[tuple[int, str]]) -> list[Target]:
        if incident.kind in RESOLVES:
            return list(resolution_targets(closed, self.config))
        return [(c, a, None) for c, a in route(incident, self.config)]

    # -- claiming ------------------------------------------------------------------------------------------
    def take_over_in_doubt(self) -> int:
        """Mark ``sending`` rows of other (dead) workers as in doubt and due now; return how many."""
        count = self.outbox.take_over_in_doubt(self.owner)
        if count:
            _log().log_event("alert_deliveries_in_doubt", level="warning", count=count, owner=self.owner)
        return count

    def release(self, delivery_id: int) -> None:
        """Give back a claimed delivery whose attempt broke off: pending again, in doubt, due now."""
        self.outbox.release(delivery_id, self.owner)

    def claim_due(self, limit: int, exclude: set[int] | None = None) -> list[Claim]:
        """Atomically take up to ``limit`` due deliveries whose dependency (trigger before resolve) is met."""
        return self.outbox.claim_due(self.owner, limit, self.config.worker.lease_seconds, exclude)

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
        if result == "delivered":
            self.outbox.mark_delivered(claim.delivery_id, now, reason or None)
        elif result == "retry":
            in_doubt = bool(outcome.maybe_sent or (claim.in_doubt and reason.startswith("in doubt")))
            self.outbox.schedule_retry(
                claim.delivery_id, now + self.config.retry.delay(claim.attempts), reason, in_doubt
            )
        else:  # dead_letter, or not_configured (terminal too: nothing to retry until credentials exist)
            status = NOT_CONFIGURED if result == NOT_CONFIGURED else DEAD_LETTER
            self.outbox.mark_terminal(claim.delivery_id, status, reason)
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
        return self.outbox.requeue(status, ids)
