"""foundation.dsn: a PostgreSQL DSN shown with its password masked, in both libpq forms."""

from __future__ import annotations

import pytest

from foundation.dsn import dsn_password, is_uri, redact_dsn


@pytest.mark.parametrize(("dsn", "shown", "password"), [
    ("host=db port=5432 user=pmx password=s3cret dbname=portfolio",
     "host=db port=5432 user=pmx password=*** dbname=portfolio", "s3cret"),
    ("host=db password = 'with space\\'q' dbname=portfolio", "host=db password = *** dbname=portfolio",
     "with space'q"),
    ("host=db user=pmx dbname=portfolio", "host=db user=pmx dbname=portfolio", None),
    ("postgresql://pmx:s3cret@db:5432/portfolio?sslmode=require",
     "postgresql://pmx:***@db:5432/portfolio?sslmode=require", "s3cret"),
    ("postgres://pmx@db/portfolio?password=s3cret&sslmode=require",
     "postgres://pmx@db/portfolio?password=***&sslmode=require", "s3cret"),
    ("postgresql://db/portfolio", "postgresql://db/portfolio", None),
], ids=["key-value", "quoted", "no-password", "uri", "uri-query", "uri-bare"])
def test_the_password_is_masked_and_the_rest_kept(dsn: str, shown: str, password: str | None) -> None:
    assert redact_dsn(dsn) == shown
    assert dsn_password(dsn) == password
    assert is_uri(dsn) == dsn.startswith("postgres")
