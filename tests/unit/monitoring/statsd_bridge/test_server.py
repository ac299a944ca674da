"""The running bridge over real sockets on 127.0.0.1 (free ports), and its command line."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitoring.statsd_bridge.__main__ import main
from monitoring.statsd_bridge.mapper import MetricMapper
from monitoring.statsd_bridge.server import StatsDBridgeServer

REPO = Path(__file__).resolve().parents[4]


def scrape(server: StatsDBridgeServer) -> str:
    host, port = server.web_address
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return response.read().decode()


def wait_for(server: StatsDBridgeServer, needle: str, timeout: float = 5.0) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = scrape(server)
        if needle in text:
            return text
        time.sleep(0.02)
    raise AssertionError(f"{needle!r} not on /metrics:\n{text}")


@pytest.fixture
def bridge_server(tmp_path: Path) -> Iterator[StatsDBridgeServer]:
    mapping = tmp_path / "mapping.yml"
    mapping.write_text("mappings:\n- {match: app.hits, name: app_hits_total}\n")
    server = StatsDBridgeServer(
        MetricMapper.from_file(mapping),
        udp=("127.0.0.1", 0),
        tcp=("127.0.0.1", 0),
        web=("127.0.0.1", 0),
        mapping_path=mapping,
    )
    with server:
        yield server


def test_udp_and_tcp_reach_metrics(bridge_server: StatsDBridgeServer) -> None:
    """Lines sent over UDP and TCP appear on ``/metrics``; everything is bound to 127.0.0.1."""
    assert bridge_server.udp is not None and bridge_server.tcp is not None
    assert (
        bridge_server.udp.address[0]
        == bridge_server.tcp.address[0]
        == bridge_server.web_address[0]
        == "127.0.0.1"
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.sendto(b"app.hits,route=a:1|c\napp.hits,route=a:2|c", bridge_server.udp.address)
    with socket.create_connection(bridge_server.tcp.address, timeout=5) as tcp:
        tcp.sendall(b"tcp.hits:3|c\ntcp.gauge:")
        tcp.sendall(b"7|g\n")
    text = wait_for(bridge_server, 'app_hits_total{route="a"} 3.0')
    text = wait_for(bridge_server, "tcp_gauge 7.0")
    assert "tcp_hits 3.0" in text
    assert "statsd_exporter_udp_packets_total 1.0" in text
    assert "statsd_exporter_tcp_connections_total 1.0" in text


def test_tcp_line_too_long_is_skipped(bridge_server: StatsDBridgeServer) -> None:
    """An over-long TCP line is counted and skipped; the next line still counts."""
    assert bridge_server.tcp is not None
    with socket.create_connection(bridge_server.tcp.address, timeout=5) as tcp:
        tcp.sendall(b"x" * 70_000 + b":1|c\nafter.long:1|c\n")
    text = wait_for(bridge_server, "after_long 1.0")
    assert "statsd_exporter_tcp_too_long_lines_total 1.0" in text


def test_reload_good_and_bad_mapping(bridge_server: StatsDBridgeServer) -> None:
    """A good reload switches names; a bad one keeps the old mapping and counts a failure."""
    assert bridge_server.mapping_path is not None
    bridge_server.mapping_path.write_text("mappings:\n- {match: app.hits, name: app_requests_total}\n")
    assert bridge_server.reload()
    bridge_server.mapping_path.write_text("mappings:\n- {match: app.hits}\n")
    assert not bridge_server.reload()
    bridge_server.bridge.handle_packet(b"app.hits:1|c")
    text = scrape(bridge_server)
    assert "app_requests_total 1.0" in text
    assert 'statsd_exporter_config_reloads_total{outcome="failure"} 1.0' in text
    assert 'statsd_exporter_config_reloads_total{outcome="success"} 1.0' in text


def test_a_reload_of_a_non_utf8_mapping_keeps_the_old_one(bridge_server: StatsDBridgeServer) -> None:
    """SIGHUP with a Latin-1 mapping file: counted as a failed reload, not an exception in the handler."""
    assert bridge_server.mapping_path is not None
    bridge_server.mapping_path.write_bytes(b"mappings:\n- {match: app.hits, name: caf\xe9_total}\n")
    assert not bridge_server.reload()
    bridge_server.bridge.handle_packet(b"app.hits:1|c")
    text = scrape(bridge_server)
    assert "app_hits_total 1.0" in text
    assert 'statsd_exporter_config_reloads_total{outcome="failure"} 1.0' in text


def test_health_and_unknown_paths(bridge_server: StatsDBridgeServer) -> None:
    """``/-/healthy`` answers; unknown paths are 404."""
    host, port = bridge_server.web_address
    with urllib.request.urlopen(f"http://{host}:{port}/-/healthy", timeout=5) as response:
        assert response.status == 200
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"http://{host}:{port}/nope", timeout=5)
    assert info.value.code == 404


def test_cli_refuses_bad_mapping_naming_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--check-config`` on a broken file: exit 2 and one line naming the file and the problem."""
    bad = tmp_path / "broken.yml"
    bad.write_text("mappings:\n- match: a.*\n  name: 0bad\n")
    assert main(["--statsd.mapping-config", str(bad), "--check-config"]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "0bad" in err and "Traceback" not in err


def test_cli_check_config_accepts_project_mapping(capsys: pytest.CaptureFixture[str]) -> None:
    """The project's mapping file passes ``--check-config``."""
    mapping = REPO / "monitoring" / "statsd_mapping.yml"
    assert main(["--mapping-config", str(mapping), "--check-config"]) == 0
    assert "OK" in capsys.readouterr().out


def test_cli_runs_as_module_and_stops_on_sigterm(tmp_path: Path) -> None:
    """``python -m monitoring.statsd_bridge`` serves and exits cleanly on SIGTERM."""
    from tests.support import free_port

    web, udp = free_port(), free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "monitoring.statsd_bridge",
            "--web.listen-address",
            f"127.0.0.1:{web}",
            "--statsd.listen-udp",
            f"127.0.0.1:{udp}",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{web}/metrics", timeout=2) as response:
                    assert b"statsd_exporter_lines_total" in response.read()
                    break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "bridge did not start"
                time.sleep(0.1)
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_a_scraper_that_hangs_up_mid_reply_is_no_error(bridge_server: StatsDBridgeServer,
                                                       capfd: pytest.CaptureFixture[str],
                                                       caplog: pytest.LogCaptureFixture) -> None:
    """A client that resets the connection before ``/metrics`` is written costs a debug line, not a traceback."""
    bridge_server.bridge.handle_lines([f"app.hits,route=r{i:05d}:1|c" for i in range(5_000)])  # ~200 KB reply
    # Small buffers on both ends (accepted sockets inherit the listening socket's), so the reply cannot fit in them
    bridge_server.http.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    caplog.set_level("DEBUG", logger="monitoring.statsd_bridge.server")
    for _ in range(3):
        client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
        client.settimeout(5)
        client.connect(bridge_server.web_address)
        client.sendall(b"GET /metrics HTTP/1.1\r\nHost: bridge\r\n\r\n")
        client.recv(1024)  # the reply has started
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        client.close()  # RST: the rest of the reply has nowhere to go
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len([r for r in caplog.records if "went away" in r.message]) < 3:
        time.sleep(0.05)
    assert len([r for r in caplog.records if "went away" in r.message]) == 3
    assert "Traceback" not in capfd.readouterr().err
    assert "app_hits_total" in scrape(bridge_server)  # and the next scrape is served
