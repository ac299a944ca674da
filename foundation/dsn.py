"""PostgreSQL connection strings (DSNs) made safe to show: the password masked, everything else kept.

Both libpq forms are understood: a URI (``postgresql://user:secret@host:5432/db?sslmode=require``, also a
``password=`` query parameter) and key/value pairs (``host=db user=pmx password='s e c' dbname=pmx``).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
_URI_SCHEMES = ("postgresql://", "postgres://")
# ``password = value`` in the key/value form: the value is a bare word or a single-quoted string with \' escapes
_KV_PASSWORD = re.compile(r"(?P<key>\bpassword\s*=\s*)(?P<value>'(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def is_uri(dsn: str) -> bool:
    """Whether ``dsn`` is in the URI form (``postgresql://...``) rather than key/value pairs."""
    return dsn.strip().lower().startswith(_URI_SCHEMES)


def dsn_password(dsn: str) -> str | None:
    """The password written in ``dsn``, if any (for registering it with the redactor)."""
    if is_uri(dsn):
        parts = urlsplit(dsn.strip())
        query = dict(parse_qsl(parts.query))
        return parts.password or query.get("password") or None
    match = _KV_PASSWORD.search(dsn)
    if match is None:
        return None
    value = match.group("value")
    if value.startswith("'") and value.endswith("'") and len(value) >= 2:
        value = re.sub(r"\\(.)", r"\1", value[1:-1])
    return value or None


def redact_dsn(dsn: str) -> str:
    """``dsn`` with its password replaced by ``***`` (host, port, user, database and options kept)."""
    if is_uri(dsn):
        parts = urlsplit(dsn.strip())
        netloc = parts.netloc
        if parts.password is not None:
            userinfo, _, hostinfo = netloc.rpartition("@")
            netloc = f"{userinfo.split(':', 1)[0]}:{MASK}@{hostinfo}"
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        query = urlencode([(k, MASK if k.lower() == "password" else v) for k, v in pairs], safe="*")
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    return _KV_PASSWORD.sub(lambda m: m.group("key") + MASK, dsn)
