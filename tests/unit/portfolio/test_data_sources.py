from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from foundation.pipeline_logger import read_events
from portfolio.data_sources.alpha_vantage import AlphaVantageSource
from portfolio.data_sources.base import OHLCV_COLUMNS, AllSourcesFailedError, DataSource, SourceError
from portfolio.data_sources.cache import DiskCache
from portfolio.data_sources.finnhub import FinnhubSource
from portfolio.data_sources.manager import DataSourceManager
from portfolio.data_sources.synthetic_source import SyntheticSource
from portfolio.data_sources.yfinance_source import YFinanceSource
from portfolio.synthetic import save_dataset
from tests.support import free_port

START, END = date(2024, 1, 2), date(2024, 2, 29)


def bars(n: int = 5, start: str = "2024-01-02") -> pd.DataFrame:
    days = pd.bdate_range(start, periods=n)
    return pd.DataFrame({"date": days, "open": 10.0, "high": 11.0, "low": 9.0, "close": 10.5,
                         "volume": 1000.0})


class CountingSource:
    """A fake source that counts fetches and can be made unavailable or failing."""

    def __init__(self, name: str, *, frame: pd.DataFrame | None = None, error: str | None = None,
                 unavailable: str | None = None) -> None:
        self.name, self.frame, self.error, self.unavailable = name, frame, error, unavailable
        self.calls = 0

    def available(self) -> tuple[bool, str]:
        return (False, self.unavailable) if self.unavailable else (True, "")

    def fetch(self, ticker: str, start: date, end: date) -> pd.DataFrame:
        self.calls += 1
        if self.error:
            raise SourceError(self.name, ticker, self.error)
        return (self.frame if self.frame is not None else bars()).copy()


def events(home: Path, name: str) -> list[dict[str, Any]]:
    return [e for e in read_events(home / "logs" / "pipeline") if e["event"] == name]


def received(sock: socket.socket, prefix: str, count: int) -> list[str]:
    lines: list[str] = []
    while len(lines) < count:
        line = sock.recv(4096).decode()
        if line.startswith(prefix):
            lines.append(line)
    return lines


class FakeApi:
    """A real HTTP server on 127.0.0.1 standing in for a provider; records each request."""

    def __init__(self, payload: Any, status: int = 200) -> None:
        self.payload, self.status, self.requests = payload, status, []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                api.requests.append({"path": self.path, "headers": dict(self.headers)})
                body = json.dumps(api.payload).encode()
                self.send_response(api.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_api() -> Iterator[type[FakeApi]]:
    started: list[FakeApi] = []

    class Tracked(FakeApi):
        def __init__(self, payload: Any, status: int = 200) -> None:
            super().__init__(payload, status)
            started.append(self)

    yield Tracked
    for api in started:
        api.close()


# -- cache ------------------------------------------------------------------------------------------------
def test_cache_hit_avoids_the_source(pmx_home: Path) -> None:
    source = CountingSource("fake")
    manager = DataSourceManager("live", sources=[source])
    first = manager.fetch("AAPL", START, END)
    second = manager.fetch("AAPL", START, END)
    assert source.calls == 1
    assert (first.from_cache, second.from_cache) == (False, True)
    pd.testing.assert_frame_equal(first.frame, second.frame)
    assert second.source == "fake" and second.origin == "cache of fake"


def test_cache_entries_expire_after_the_ttl(pmx_home: Path) -> None:
    now = [1_000_000.0]
    cache = DiskCache(pmx_home / "cache", ttl_hours=1, clock=lambda: now[0])
    source = CountingSource("fake")
    manager = DataSourceManager("live", sources=[source], cache=cache)
    manager.fetch("AAPL", START, END)
    now[0] += 3599
    assert manager.fetch("AAPL", START, END).from_cache is True
    assert cache.stale_entries() == []
    now[0] += 2
    assert [p.suffix for p in cache.stale_entries()] == [".csv", ".json"]
    assert manager.fetch("AAPL", START, END).from_cache is False
    assert source.calls == 2


def test_corrupt_cache_entry_is_a_miss_and_zero_ttl_disables_caching(pmx_home: Path) -> None:
    cache = DiskCache(pmx_home / "cache", ttl_hours=12)
    path = cache.put("fake", "AAPL", START, END, bars())
    assert path is not None and cache.get("fake", "AAPL", START, END) is not None
    path.write_text(path.read_text().replace("10.5", "99.5"))
    assert cache.get("fake", "AAPL", START, END) is None
    off = DiskCache(pmx_home / "off", ttl_hours=0)
    assert off.put("fake", "AAPL", START, END, bars()) is None and not (pmx_home / "off").exists()


# -- failover ---------------------------------------------------------------------------------------------
def test_failover_follows_the_order_and_logs_every_step(pmx_home: Path, udp_metrics: socket.socket) -> None:
    broken = CountingSource("first", error="HTTP 503: busy")
    keyless = CountingSource("second", unavailable="SECOND_API_KEY is not set")
    good = CountingSource("third")
    manager = DataSourceManager("live", sources=[broken, keyless, good], use_cache=False)
    result = manager.fetch("AAPL", START, END)
    assert result.source == "third" and result.fallback is False
    assert (broken.calls, keyless.calls, good.calls) == (1, 0, 1)
    steps = [(e["from_source"], e["to_source"], e["reason"])
             for e in events(pmx_home, "data_source_failover")]
    assert steps == [("first", "second", "HTTP 503: busy"), ("second", "third", "SECOND_API_KEY is not set")]
    assert received(udp_metrics, "pmx.etl.source_failover", 2) == [
        "pmx.etl.source_failover,from_source=first,to_source=second:1|c",
        "pmx.etl.source_failover,from_source=second,to_source=third:1|c",
    ]
    assert [a.source for a in result.attempts] == ["first", "second", "third"]


def test_live_mode_with_every_source_failing_names_each(pmx_home: Path) -> None:
    sources: list[DataSource] = [CountingSource("a", error="HTTP 500: down"),
                                 CountingSource("b", unavailable="B_KEY is not set"),
                                 CountingSource("synthetic")]
    with pytest.raises(AllSourcesFailedError) as info:
        DataSourceManager("live", sources=sources).fetch("AAPL", START, END)
    message = str(info.value)
    assert "AAPL" in message and "live mode" in message
    assert "a: HTTP 500: down" in message and "b: B_KEY is not set" in message
    assert info.value.reasons == {"a": "HTTP 500: down", "b": "B_KEY is not set"}
    assert sources[2].calls == 0, "live mode never uses synthetic data"  # type: ignore[attr-defined]
    assert events(pmx_home, "data_sources_exhausted")[0]["level"] == "error"


def test_no_network_falls_back_to_synthetic_and_says_so(pmx_home: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens: an honest stand-in for "no network"
    sources: list[DataSource] = [AlphaVantageSource("av-test-key-1", base_url=closed + "/query", timeout=2),
                                 FinnhubSource("fh-test-key-2", base_url=closed + "/v1", timeout=2),
                                 SyntheticSource()]
    manager = DataSourceManager("auto", sources=sources, use_cache=False)
    result = manager.fetch("AAPL", START, END)
    assert result.source == "synthetic" and result.fallback is True
    assert list(result.frame.columns) == list(OHLCV_COLUMNS) and len(result.frame) == 41
    failovers = events(pmx_home, "data_source_failover")
    assert [(e["from_source"], e["to_source"]) for e in failovers] == [("alpha_vantage", "finnhub"),
                                                                       ("finnhub", "synthetic")]
    assert all("ConnectionError" in e["reason"] for e in failovers)
    fallback = events(pmx_home, "data_source_fallback")
    assert len(fallback) == 1 and "using SYNTHETIC data" in fallback[0]["message"]
    assert set(fallback[0]["reasons"]) == {"alpha_vantage", "finnhub"}
    # the next ticker skips the unreachable host at once instead of trying it again
    second = manager.fetch("MSFT", START, END)
    assert second.source == "synthetic"
    assert all("network unreachable" in a.reason for a in second.attempts if not a.ok)


def test_default_sources_without_keys_fall_back_to_synthetic(pmx_home: Path) -> None:
    manager = DataSourceManager("auto", order=["alpha_vantage", "finnhub"])
    assert [s.name for s in manager.sources] == ["alpha_vantage", "finnhub", "synthetic"]
    result = manager.fetch("AAPL", START, END)
    assert result.fallback is True
    assert {a.source: a.reason for a in result.attempts if not a.ok} == {
        "alpha_vantage": "ALPHA_VANTAGE_API_KEY is not set", "finnhub": "FINNHUB_API_KEY is not set"}


@pytest.mark.parametrize(("mode", "names"), [
    pytest.param("synthetic", ["synthetic"], id="synthetic-only"),
    pytest.param("live", ["yfinance", "alpha_vantage", "finnhub"], id="live-only"),
    pytest.param("auto", ["yfinance", "alpha_vantage", "finnhub", "synthetic"],
                 id="auto-live-then-synthetic"),
])
def test_modes_select_sources(pmx_home: Path, mode: str, names: list[str]) -> None:
    assert [s.name for s in DataSourceManager(mode).sources] == names


def test_unknown_mode_is_refused(pmx_home: Path) -> None:
    with pytest.raises(ValueError, match="execution mode 'paper'"):
        DataSourceManager("paper")


def test_secret_key_never_reaches_logs_or_errors(pmx_home: Path) -> None:
    secret = "av-very-secret-key-123"
    (pmx_home / ".env").write_text(f"ALPHA_VANTAGE_API_KEY={secret}\n")
    closed = f"http://127.0.0.1:{free_port()}/query"
    source = AlphaVantageSource(base_url=closed, timeout=2)  # key read from .env
    assert source.api_key == secret
    with pytest.raises(AllSourcesFailedError) as info:
        DataSourceManager("live", sources=[source], use_cache=False).fetch("AAPL", START, END)
    assert "ConnectionError" in str(info.value) and secret not in str(info.value)
    for path in (pmx_home / "logs").rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(), path


# -- live sources against a local HTTP server -------------------------------------------------------------
def test_alpha_vantage_parses_daily_series(pmx_home: Path, fake_api: type[FakeApi]) -> None:
    series = {d: {"1. open": "10", "2. high": "12", "3. low": "9", "4. close": "11", "5. volume": "500"}
              for d in ("2024-01-04", "2024-01-03", "2024-01-02", "2023-12-29")}
    api = fake_api({"Meta Data": {}, "Time Series (Daily)": series})
    frame = AlphaVantageSource("k-123456", base_url=api.url + "/query").fetch("IBM", date(2024, 1, 1),
                                                                             date(2024, 1, 31))
    assert [str(d.date()) for d in frame["date"]] == ["2024-01-02", "2024-01-03", "2024-01-04"]
    first = frame[["open", "high", "low", "close", "volume"]].iloc[0].tolist()
    assert first == [10.0, 12.0, 9.0, 11.0, 500.0]
    assert "symbol=IBM" in api.requests[0]["path"] and "function=TIME_SERIES_DAILY" in api.requests[0]["path"]


@pytest.mark.parametrize(("payload", "status", "message"), [
    pytest.param({"Note": "API call frequency exceeded"}, 200, "Note: API call frequency", id="rate-limited"),
    pytest.param({"Error Message": "Invalid API call"}, 200, "Error Message: Invalid API call",
                 id="bad-symbol"),
    pytest.param({"unexpected": 1}, 200, "no 'Time Series \\(Daily\\)'", id="unexpected-shape"),
    pytest.param({"x": 1}, 503, "HTTP 503", id="server-error"),
])
def test_alpha_vantage_errors_are_source_errors(pmx_home: Path, fake_api: type[FakeApi], payload: Any,
                                                status: int, message: str) -> None:
    api = fake_api(payload, status)
    with pytest.raises(SourceError, match=message):
        AlphaVantageSource("k-123456", base_url=api.url + "/query").fetch("IBM", START, END)


def test_finnhub_parses_candles_and_sends_the_key_in_a_header(pmx_home: Path,
                                                              fake_api: type[FakeApi]) -> None:
    stamps = [1704153600, 1704240000]  # 2024-01-02 and 2024-01-03 00:00 UTC
    api = fake_api({"s": "ok", "t": stamps, "o": [1, 2], "h": [3, 4], "l": [0.5, 1], "c": [2, 3],
                    "v": [10, 20]})
    frame = FinnhubSource("fh-key-987", base_url=api.url + "/v1").fetch("AAPL", START, END)
    assert [str(d.date()) for d in frame["date"]] == ["2024-01-02", "2024-01-03"]
    assert frame["close"].tolist() == [2.0, 3.0]
    request = api.requests[0]
    assert request["path"].startswith("/v1/stock/candle?") and "fh-key-987" not in request["path"]
    assert request["headers"]["X-Finnhub-Token"] == "fh-key-987"


def test_finnhub_no_data_is_a_source_error(pmx_home: Path, fake_api: type[FakeApi]) -> None:
    api = fake_api({"s": "no_data"})
    with pytest.raises(SourceError, match="finnhub: AAPL: no_data"):
        FinnhubSource("fh-key-987", base_url=api.url).fetch("AAPL", START, END)


def test_yfinance_is_unavailable_without_the_package(pmx_home: Path) -> None:
    import importlib.util

    ok, reason = YFinanceSource().available()
    assert ok is (importlib.util.find_spec("yfinance") is not None)
    if not ok:
        assert "yfinance is not installed" in reason


# -- synthetic source -------------------------------------------------------------------------------------
def test_synthetic_source_reads_the_latest_dataset_or_generates_the_same_bars(pmx_home: Path) -> None:
    save_dataset(["AAPL"], date(2023, 1, 3), date(2024, 6, 28), dataset_id="ds-1")
    source = SyntheticSource()
    from_file = source.fetch("AAPL", START, END)
    assert from_file.attrs["origin"] == "dataset ds-1"
    beyond = source.fetch("AAPL", START, date(2024, 7, 31))
    assert beyond.attrs["origin"].startswith("generated") and "ds-1" in beyond.attrs["origin"]
    head = beyond[beyond["date"] <= pd.Timestamp(END)].reset_index(drop=True)
    pd.testing.assert_frame_equal(from_file, head)
    assert list(from_file.columns) == list(OHLCV_COLUMNS)


def test_missing_named_dataset_makes_synthetic_unavailable(pmx_home: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNTHETIC_DATASET_ID", "does-not-exist")
    ok, reason = SyntheticSource().available()
    assert not ok and "'does-not-exist' not found" in reason
    with pytest.raises(AllSourcesFailedError, match="synthetic: synthetic dataset 'does-not-exist'"):
        DataSourceManager("synthetic").fetch("AAPL", START, END)
