"""Benchmark the StatsD bridge with the project's mapping file (prints numbers; asserts nothing).

  python bench/statsd_bridge.py                 # full run (about 4 minutes)
  python bench/statsd_bridge.py --quick         # smoke run (about 10 s)
  python bench/statsd_bridge.py --flood         # only 5: the distinct-tags flood (about 1 minute)

Reports:
  1. in-process parsing + mapping throughput (no sockets): the bridge's CPU ceiling;
  2. a bare Python UDP receive loop under a saturating sender: the practical ceiling on this machine;
  3. the bridge under the same sender: sustained lines/s, and its ratio to (2); both also per CPU-second of
     the receiving thread, which stays meaningful when other work shares the machine;
  4. zero-loss check: a paced sender at --paced-rate lines/s for --paced-seconds, lines sent vs counted;
  5. a flood of --flood-tags distinct tag values over UDP into a bridge process (shipped mapping), once without
     series caps (statsd_exporter's behaviour) and once with the default caps: series, events dropped by a cap,
     RSS of the bridge process before and after, and the size of one scrape.
Traffic is realistic: Airflow 3.3 tagged lines with their legacy duplicates, plus every pmx.* metric.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import socket
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitoring.statsd_bridge.mapper import MetricMapper
from monitoring.statsd_bridge.server import StatsDBridgeServer
from tests.harness import statsd_traffic

MAPPING = Path(__file__).resolve().parents[1] / "monitoring" / "statsd_mapping.yml"
BUFFER = 4 * 1024 * 1024


def make_packets(lines_per_packet: int, count: int = 20_000) -> list[bytes]:
    """A fixed set of realistic datagrams."""
    stream = statsd_traffic.packets(seed=1, lines_per_packet=lines_per_packet)
    return [next(stream) for _ in range(count)]


def _sender(address: tuple[str, int], lines_per_packet: int, seconds: float, rate: float, sent: Any) -> None:
    packets = make_packets(lines_per_packet)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, BUFFER)
    count, lines, start, n = 0, 0, time.perf_counter(), len(packets)
    deadline = start + seconds
    while True:
        now = time.perf_counter()
        if now >= deadline:
            break
        if rate:
            due = int((now - start) * rate)
            if lines >= due:
                time.sleep(0.0005)
                continue
        packet = packets[count % n]
        try:
            sock.sendto(packet, address)
        except OSError:
            continue
        count += 1
        lines += packet.count(b"\n") + 1
    with sent.get_lock():
        sent.value = lines


def start_sender(
    address: tuple[str, int], lines_per_packet: int, seconds: float, rate: float = 0.0
) -> tuple[mp.Process, Any]:
    """A sender in its own process (its own core): saturating when ``rate`` is 0, else paced lines/s."""
    sent = mp.Value("q", 0)
    proc = mp.Process(target=_sender, args=(address, lines_per_packet, seconds, rate, sent), daemon=True)
    proc.start()
    return proc, sent


def in_process(lines_per_packet: int, seconds: float) -> float:
    """Lines/s through parsing, mapping and series updates, without sockets."""
    server = StatsDBridgeServer(MetricMapper.from_file(MAPPING), udp=None, web=("127.0.0.1", 0))
    packets = make_packets(lines_per_packet)
    handle, lines, start = server.bridge.handle_packet, 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for packet in packets[:2000]:
            handle(packet)
        lines = server.bridge.lines
    elapsed = time.perf_counter() - start
    server.http.server_close()
    return lines / elapsed


def _cpu(thread: threading.Thread) -> float:
    assert thread.ident is not None
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


def bare_udp_loop(lines_per_packet: int, seconds: float) -> tuple[float, float]:
    """Lines/s a Python loop can merely ``recv`` under the saturating sender, and lines per CPU-second."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BUFFER)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.5)
    received, stop = [0], threading.Event()
    packets = make_packets(lines_per_packet)
    lines_per = sum(p.count(b"\n") + 1 for p in packets) / len(packets)

    def loop() -> None:
        recv = sock.recv
        while not stop.is_set():
            try:
                recv(65535)
            except TimeoutError:
                continue
            received[0] += 1

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    proc, _ = start_sender(sock.getsockname(), lines_per_packet, seconds + 1.5)
    time.sleep(1.0)
    first, t0, c0 = received[0], time.perf_counter(), _cpu(thread)
    time.sleep(seconds)
    count, elapsed, cpu = received[0] - first, time.perf_counter() - t0, _cpu(thread) - c0
    stop.set()
    proc.join()
    sock.close()
    return count * lines_per / elapsed, count * lines_per / max(cpu, 1e-9)


def bridge_saturated(lines_per_packet: int, seconds: float) -> tuple[float, float, float]:
    """Lines/s processed by the running bridge under the saturating sender, lines per CPU-second of its
    receive thread, and the share of sent lines lost."""
    server = StatsDBridgeServer(
        MetricMapper.from_file(MAPPING), udp=("127.0.0.1", 0), web=("127.0.0.1", 0), read_buffer=BUFFER
    )
    with server:
        assert server.udp is not None
        thread = server.udp._thread
        proc, sent = start_sender(server.udp.address, lines_per_packet, seconds + 1.5)
        time.sleep(1.0)
        first, t0, c0 = server.bridge.lines, time.perf_counter(), _cpu(thread)
        time.sleep(seconds)
        processed, elapsed, cpu = server.bridge.lines - first, time.perf_counter() - t0, _cpu(thread) - c0
        proc.join()
        time.sleep(1.0)
        loss = 1 - server.bridge.lines / max(sent.value, 1)
    return processed / elapsed, processed / max(cpu, 1e-9), loss


def paced(rate: float, seconds: float) -> dict[str, float]:
    """Send ``rate`` lines/s (one line per datagram, as Airflow does) for ``seconds``; count what arrived."""
    server = StatsDBridgeServer(MetricMapper.from_file(MAPPING), udp=("127.0.0.1", 0), web=("127.0.0.1", 0))
    with server:
        assert server.udp is not None
        proc, sent = start_sender(server.udp.address, 1, seconds, rate)
        proc.join()
        deadline = time.monotonic() + 10
        while server.bridge.lines < sent.value and time.monotonic() < deadline:
            time.sleep(0.1)
        counted = server.bridge.lines
        drops = server.stats.udp_drops()
    return {
        "rate": rate,
        "seconds": seconds,
        "sent": sent.value,
        "counted": counted,
        "lost": sent.value - counted,
        "kernel_drops": drops,
    }


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _get(url: str) -> bytes:
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


def _sample(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and (line[len(name)] in " {"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def flood(tags: int, capped: bool) -> dict[str, object]:
    """``tags`` distinct tag values of one mapped and one unmapped metric into a bridge process."""
    import subprocess

    from tests.support import free_port

    web, udp = free_port(), free_port()
    caps = [] if capped else ["--statsd.max-series", "0", "--statsd.max-series-per-metric", "0"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitoring.statsd_bridge", "--statsd.mapping-config", str(MAPPING),
         "--web.listen-address", f"127.0.0.1:{web}", "--statsd.listen-udp", f"127.0.0.1:{udp}",
         "--log.level", "warn", *caps],
        cwd=MAPPING.parents[1],
    )
    base = f"http://127.0.0.1:{web}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                _get(f"{base}/-/healthy")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        _get(f"{base}/metrics")
        rss_before = _rss_mb(proc.pid)
        lines = [f"pmx.task.event,dag_id=flood,task_id=t{i},state=success:1|c".encode() for i in range(tags // 2)]
        lines += [f"flood.unmapped,id=u{i}:1|c".encode() for i in range(tags - tags // 2)]
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for n, offset in enumerate(range(0, len(lines), 20)):
            sock.sendto(b"\n".join(lines[offset:offset + 20]), ("127.0.0.1", udp))
            if n % 50 == 49:
                time.sleep(0.005)
        sock.close()
        counted, last_change, previous = 0.0, time.monotonic(), -1.0
        while counted < len(lines) and time.monotonic() - last_change < 10:
            counted = _sample(_get(f"{base}/metrics").decode(), "statsd_exporter_lines_total")
            if counted != previous:
                previous, last_change = counted, time.monotonic()
            time.sleep(0.5)
        page = _get(f"{base}/metrics")
        text = page.decode()
        return {
            "caps": "default (50000 total, 10000 per metric)" if capped else "none",
            "distinct_tag_values_sent": len(lines),
            "lines_counted": int(counted),
            "series": int(_sample(text, "statsd_bridge_series")),
            "dropped_by_cap": int(_sample(text, "statsd_bridge_series_limit_drops_total")),
            "rss_mb_before": round(rss_before, 1),
            "rss_mb_after": round(_rss_mb(proc.pid), 1),
            "scrape_mib": round(len(page) / 2**20, 2),
        }
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="measurement window per throughput test")
    parser.add_argument("--paced-rate", type=float, default=5000.0, help="lines/s of the zero-loss check")
    parser.add_argument("--paced-seconds", type=float, default=60.0, help="duration of the zero-loss check")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are reported")
    parser.add_argument("--quick", action="store_true", help="short windows (smoke run)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument("--flood", action="store_true", help="run only the distinct-tags flood (5)")
    parser.add_argument("--flood-tags", type=int, default=100_000, help="distinct tag values of the flood")
    args = parser.parse_args()
    if args.flood:
        floods = [flood(args.flood_tags, capped) for capped in (False, True)]
        print(json.dumps(floods, indent=2) if args.json else "\n".join(
            " ".join(f"{k}={v}" for k, v in f.items()) for f in floods))
        return 0
    if args.quick:
        args.seconds, args.paced_seconds, args.rounds = 2.0, 3.0, 1
    mp.set_start_method("fork", force=True)
    results: dict[str, object] = {
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "mapping": str(MAPPING.name),
    }
    for lpp in (1, 10):
        results[f"in_process_lines_per_s[{lpp}/pkt]"] = round(in_process(lpp, args.seconds))
        bares, bare_cpus, rates, rate_cpus, losses = [], [], [], [], []
        for _ in range(args.rounds):  # interleaved, so background load affects both alike
            bare, bare_cpu = bare_udp_loop(lpp, args.seconds)
            rate, rate_cpu, loss = bridge_saturated(lpp, args.seconds)
            bares.append(bare)
            bare_cpus.append(bare_cpu)
            rates.append(rate)
            rate_cpus.append(rate_cpu)
            losses.append(loss)
        med = statistics.median
        results[f"bare_udp_loop_lines_per_s[{lpp}/pkt]"] = round(med(bares))
        results[f"bridge_lines_per_s[{lpp}/pkt]"] = round(med(rates))
        results[f"bridge_to_bare_ratio[{lpp}/pkt]"] = round(med(rates) / med(bares), 3)
        results[f"bare_udp_loop_lines_per_cpu_s[{lpp}/pkt]"] = round(med(bare_cpus))
        results[f"bridge_lines_per_cpu_s[{lpp}/pkt]"] = round(med(rate_cpus))
        results[f"bridge_to_bare_cpu_ratio[{lpp}/pkt]"] = round(med(rate_cpus) / med(bare_cpus), 3)
        results[f"bridge_loss_when_saturated[{lpp}/pkt]"] = round(med(losses), 4)
    results["paced"] = paced(args.paced_rate, args.paced_seconds)
    results["flood"] = [flood(args.flood_tags, capped) for capped in (False, True)]
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for key, value in results.items():
            print(f"{key:45s} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
