"""Delivery through the Slack, PagerDuty and SMTP providers, with each failure classified once.

Every ``send`` returns an :class:`Outcome`: ``delivered``, ``retry`` (5xx, 408/429, timeouts, network),
``dead_letter`` (a 4xx that cannot succeed, a misconfigured URL) or ``not_configured`` (the channel's
Connection is not defined: nothing was sent and nothing failed; ``dead_letter.missing_connection`` decides).
The ``file`` channel is a local receiver that needs no credentials. The secrets live in
Airflow Connections; outcome reasons are redacted and never contain them.

After a crash mid-request a delivery is *in doubt*; ``reconcile`` tells whether it arrived: the Slack Web API
is searched for the message's metadata (exactly once); PagerDuty deduplicates on ``dedup_key`` so a resend
is absorbed by the open alert; webhooks and email cannot be checked and are resent (at least once).
"""

from __future__ import annotations

import math
import smtplib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from alerts.incident import RESOLVES
from alerts.messages import email_message, pagerduty_event, slack_message
from foundation.redaction import bounded, register_secret

if TYPE_CHECKING:
    from alerts.alerting_config import AlertingConfig, ChannelConfig
    from alerts.incident import Incident

Result = Literal["delivered", "retry", "dead_letter", "not_configured"]
RETRYABLE_4XX = frozenset({408, 425, 429})
THREAD_LOOKBACK_SECONDS = 7 * 86400  # how far back the first message of a thread is looked for
SLACK_PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "invalid_blocks",
        "msg_too_long",
        "invalid_metadata_format",
        "restricted_action",
        "no_text",
        "invalid_arguments",
        "channel_is_archived",
    }
)


@dataclass(frozen=True)
class Outcome:
    """The result of one delivery attempt."""

    result: Result
    reason: str = ""
    status: int | None = None
    maybe_sent: bool = False  # no answer (timeout, reset): the request may have arrived; reconcile first


def _name(exc: BaseException) -> str:
    return type(exc).__name__


def _missing_connection(exc: BaseException) -> bool:
    return _name(exc) in ("AirflowNotFoundException", "ConnectionNotFound") or "isn't defined" in str(exc)


def classify_status(status: int, reason: str, config: AlertingConfig) -> Outcome:
    """HTTP status -> outcome: 2xx delivered, configured 4xx dead letter, everything else retried."""
    if 200 <= status < 300:
        return Outcome("delivered", "", status)
    if status in config.dead_letter.permanent_statuses and status not in RETRYABLE_4XX:
        return Outcome("dead_letter", f"HTTP {status}: {reason}"[:500], status)
    return Outcome("retry", f"HTTP {status}: {reason}"[:500], status)


def _exception_outcome(exc: BaseException, config: AlertingConfig, conn_id: str | None) -> Outcome:
    if _missing_connection(exc):
        result: Result = config.dead_letter.missing_connection
        return Outcome(result, f"not configured: connection {conn_id!r} is not defined")
    return Outcome("retry", bounded(f"{_name(exc)}: {exc}", 500), maybe_sent=True)


class Channel:
    """Base class: one configured channel."""

    def __init__(self, name: str, spec: ChannelConfig, config: AlertingConfig) -> None:
        self.name, self.spec, self.config = name, spec, config
        self.timeout = config.retry.timeout_seconds

    @property
    def conn_id(self) -> str:
        """The channel's Connection id (every type but ``file`` has one: the config validates it)."""
        return self.spec.conn_id or ""

    def send(self, incident: Incident, action: str, delivery_key: str) -> Outcome:
        """Deliver once; never raises."""
        try:
            return self._send(incident, action, delivery_key)
        except Exception as exc:
            return _exception_outcome(exc, self.config, self.spec.conn_id)

    def _send(self, incident: Incident, action: str, delivery_key: str) -> Outcome:
        raise NotImplementedError

    def reconcile(self, incident: Incident, action: str, delivery_key: str, since: float) -> bool | None:
        """After a crash mid-send: True = it arrived, False = resend, None = cannot tell yet (retry later)."""
        return False


def follows_up(incident: Incident) -> bool:
    """Whether an earlier message has the same dedup key: a resolution, or a miss its early warning announced."""
    return incident.kind in RESOLVES or (incident.kind == "sla_miss" and bool(incident.details.get("warned_at")))


class SlackChannel(Channel):
    """Slack through the provider's ``SlackHook`` (Web API) or ``SlackWebhookHook`` (incoming webhook).

    A follow-up (:func:`follows_up`) goes into the thread of the first message of its dedup key.
    """

    _channel_ids: dict[str, str] | None = None

    def _hook(self) -> Any:
        if self.spec.mode == "webhook":
            from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

            return SlackWebhookHook(
                slack_webhook_conn_id=self.conn_id, timeout=math.ceil(self.timeout), retry_handlers=[]
            )
        from airflow.providers.slack.hooks.slack import SlackHook

        return SlackHook(slack_conn_id=self.conn_id, timeout=math.ceil(self.timeout), retry_handlers=[])

    def _send(self, incident: Incident, action: str, delivery_key: str) -> Outcome:
        message = slack_message(incident, delivery_key)
        hook = self._hook()
        if self.spec.mode == "webhook":
            resp = hook.client.send_dict({"text": message["text"], "blocks": message["blocks"]})
            return classify_status(resp.status_code, str(resp.body)[:200], self.config)
        register_secret(getattr(hook.client, "token", None))
        from slack_sdk.errors import SlackApiError

        if follows_up(incident):
            parent = self._thread_parent(hook, incident)
            if parent:  # in the thread the first message of this dedup key opened, and in the channel too
                message.update(thread_ts=parent, reply_broadcast=True)
        try:
            hook.client.chat_postMessage(channel=self.spec.channel, **message)
        except SlackApiError as exc:
            status = exc.response.status_code
            error = (
                str((exc.response.data or {}).get("error", "")) if isinstance(exc.response.data, dict) else ""
            )
            if status == 200 and error in SLACK_PERMANENT_ERRORS:
                return Outcome("dead_letter", f"slack error {error}", status)
            if status == 200:
                return Outcome("retry", f"slack error {error or 'unknown'}", status)
            return classify_status(status, error or "slack api error", self.config)
        return Outcome("delivered", "", 200)

    def _channel_id(self, hook: Any) -> str:
        """The configured channel's id (``#name`` looked up once per channel, without waiting out rate limits)."""
        channel = self.spec.channel or ""
        if not channel.startswith("#"):
            return channel
        name = channel.lstrip("#")
        ids = self._channel_ids or {}
        cursor = None
        while name not in ids:  # our own paging: the hook's lookup sleeps out a 429 for minutes
            page = hook.client.conversations_list(exclude_archived=True, limit=1000, cursor=cursor)
            ids.update({c["name"]: c["id"] for c in page.get("channels", [])})
            if not (cursor := (page.get("response_metadata") or {}).get("next_cursor")):
                break
        self._channel_ids = ids
        if name not in ids:
            raise LookupError(f"no Slack channel named {channel!r}")
        return ids[name]

    def _history(self, hook: Any, oldest: float) -> list[dict[str, Any]]:
        """Channel messages since ``oldest`` (unix time) with their metadata; thread replies only if broadcast."""
        channel_id = self._channel_id(hook)
        resp = hook.client.conversations_history(
            channel=channel_id, oldest=f"{oldest:.6f}", include_all_metadata=True, limit=200
        )
        return list(resp.get("messages", []))

    def _thread_parent(self, hook: Any, incident: Incident) -> str | None:
        """The ``ts`` of the first message of ``incident``'s dedup key in the channel (None: none, or unknown).

        An SLA miss continues its early warning's thread, a resolution the thread of what it resolves. Looking
        it up must never cost the delivery: on any error the message goes to the channel on its own.
        """
        try:
            roots = [m for m in self._history(hook, incident.created_at.timestamp() - THREAD_LOOKBACK_SECONDS)
                     if m.get("thread_ts") in (None, m.get("ts"))
                     and ((m.get("metadata") or {}).get("event_payload") or {}).get("dedup_key") == incident.dedup_key]
        except Exception:
            return None
        return str(min(roots, key=lambda m: float(m["ts"]))["ts"]) if roots else None

    def reconcile(self, incident: Incident, action: str, delivery_key: str, since: float) -> bool | None:
        """Look for our message (by metadata) in the channel history since the attempt started."""
        if self.spec.mode == "webhook":
            return False  # a webhook cannot be queried: resend (at least once)
        try:
            for msg in self._history(self._hook(), since - 120):
                payload = (msg.get("metadata") or {}).get("event_payload") or {}
                if payload.get("delivery_key") == delivery_key:
                    return True
            return False
        except Exception:
            return None


class PagerDutyChannel(Channel):
    """PagerDuty Events API v2 through the provider (routing key from the Connection, ``prepare_event_data``).

    The Connection's extra may set ``base_url`` (an https Events API endpoint) and ``ca_bundle`` (a CA file
    for it): the stock hook always talks to events.pagerduty.com with the public CAs.
    """

    def _send(self, incident: Incident, action: str, delivery_key: str) -> Outcome:
        import pagerduty
        from airflow.providers.pagerduty.hooks.pagerduty_events import PagerdutyEventsHook, prepare_event_data

        hook = PagerdutyEventsHook(pagerduty_events_conn_id=self.conn_id)
        register_secret(hook.integration_key)
        extra = hook.get_connection(self.conn_id).extra_dejson or {}
        data = prepare_event_data(**pagerduty_event(incident, action, self.spec.source))
        verify: Any = True
        if extra.get("ca_bundle"):
            import ssl

            verify = ssl.create_default_context(cafile=extra["ca_bundle"])
        try:
            client = pagerduty.EventsApiV2Client(
                hook.integration_key, base_url=extra.get("base_url"), verify=verify
            )
        except pagerduty.UrlError as exc:
            return Outcome("dead_letter", f"bad PagerDuty base_url: {exc}")
        client.retry = {429: 1}  # our outbox retries; the client only absorbs one quick 429
        client.max_network_attempts = 0
        client.sleep_timer = 0.1
        client.timeout = math.ceil(self.timeout)
        try:
            client.send_event(**data)
        except pagerduty.HttpError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            return classify_status(
                status, bounded(exc.response.text if exc.response is not None else str(exc), 200), self.config
            )
        finally:
            client.close()
        return Outcome("delivered", "", 202)

    def reconcile(self, incident: Incident, action: str, delivery_key: str, since: float) -> bool | None:
        """Resend: PagerDuty folds a repeated event with the same ``dedup_key`` into the open alert."""
        return False


class EmailChannel(Channel):
    """Email through the SMTP provider's ``SmtpHook`` (optional channel)."""

    def _send(self, incident: Incident, action: str, delivery_key: str) -> Outcome:
        from airflow.providers.smtp.hooks.smtp import SmtpHook

        subject, body = email_message(incident)
        try:
            with SmtpHook(smtp_conn_id=self.conn_id) as hook:
                hook.send_email_smtp(to=list(self.spec.to), subject=subject, html_content=body)
        except smtplib.SMTPResponseException as exc:
            code = int(getattr(exc, "smtp_code", 0) or 0)
            result: Result = "dead_letter" if 500 <= code < 600 else "retry"
            return Outcome(result, bounded(f"SMTP {code}: {exc}", 300), code)
        except smtplib.SMTPRecipientsRefused as exc:
            return Outcome("dead_letter", bounded(f"recipients refused: {exc}", 300))
        return Outcome("delivered")


class FileChannel(Channel):
    """A local receiver: one JSON line per delivery appended to ``path`` (under ``PMX_HOME``), no credentials.

    The embedded default routes every incident here too, so alerts land somewhere real out of the box.
    Each line is one ``write`` on an ``O_APPEND`` descriptor (no torn lines between writers); ``reconcile``
    looks for the delivery key in the file, so a delivery in doubt is written exactly once.
    """

    @property
    def file(self) -> Path:
        """The JSON-lines file."""
        from foundation import paths

        return paths.resolve(self.spec.path or "logs/alerts/incidents.jsonl")

    def _send(self, incident: Incident, action: str, delivery_key: str) -> Outcome:
        import json
        import os
        import time

        record = {"ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "channel": self.name,
                  "action": action, "delivery_key": delivery_key, "kind": incident.kind,
                  "severity": incident.severity, "dedup_key": incident.dedup_key, "summary": incident.summary,
                  "dag_id": incident.dag_id, "run_id": incident.run_id, "links": incident.links,
                  "details": incident.details}
        line = (json.dumps(record, default=str, sort_keys=True) + "\n").encode("utf-8")
        self.file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        return Outcome("delivered", "")

    def reconcile(self, incident: Incident, action: str, delivery_key: str, since: float) -> bool | None:
        """True when the file already holds this delivery's line."""
        try:
            needle = f'"delivery_key": "{delivery_key}"'
            return self.file.exists() and needle in self.file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None


CHANNEL_TYPES: dict[str, type[Channel]] = {
    "slack": SlackChannel,
    "pagerduty": PagerDutyChannel,
    "email": EmailChannel,
    "file": FileChannel,
}


PROVIDER_MODULES = {
    "slack": ("airflow.providers.slack.hooks.slack", "airflow.providers.slack.hooks.slack_webhook"),
    "pagerduty": ("airflow.providers.pagerduty.hooks.pagerduty_events",),
    "email": ("airflow.providers.smtp.hooks.smtp",),
    "file": (),
}


def warm_up_airflow_orm() -> None:
    """Import every Airflow model and configure the SQLAlchemy mappers in the calling thread.

    A Connection lookup (delivery threads) and a DagRun query (the worker loop) both trigger model imports and
    mapper configuration; doing that lazily from two threads deadlocks on the import locks.
    """
    import airflow.models
    from sqlalchemy.orm import configure_mappers

    airflow.models.import_all_models()
    import airflow.models.connection
    import airflow.models.dagrun
    import airflow.models.taskinstance
    import airflow.secrets.metastore

    configure_mappers()


def preload(config: AlertingConfig) -> None:
    """Import Airflow and the providers of enabled channels once, in the calling thread.

    Airflow configures logging on first import; doing that from several delivery threads at once races.
    """
    import importlib

    warm_up_airflow_orm()
    for spec in config.channels.values():
        if spec.enabled:
            for module in PROVIDER_MODULES[spec.type]:
                importlib.import_module(module)


def build_channels(config: AlertingConfig) -> dict[str, Channel]:
    """One sender per configured channel (disabled ones included: routing already skips them)."""
    return {name: CHANNEL_TYPES[spec.type](name, spec, config) for name, spec in config.channels.items()}
