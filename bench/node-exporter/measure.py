"""Measures CPU per scrape, scrape latency and RSS of two exporters.

Each exporter runs alone on a free 127.0.0.1 port with the same flags and
is scraped SCRAPES times in a row, after 5 warm-up scrapes. CPU per scrape
is the growth of the process's CPU time across one scrape (requested
with `Accept-Encoding: gzip`, as Prometheus does, so compression counts): nanosecond
on-CPU time summed over its threads (/proc/PID/task/*/schedstat) gives the
per-scrape median; utime+stime from /proc/PID/stat (10 ms ticks) gives the
total, and so the mean. RSS is VmRSS after the last scrape and the peak
(VmHWM). Processes are stopped by PID.
"""

import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

FLAGS = [
    "--collector.filesystem.mount-points-exclude="
    "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)",
    "--collector.netdev.device-exclude=^lo$",
]
TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stat_cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / TICKS


def sched_cpu_ns(pid):
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass  # the thread exited between listdir and open
    return total


def status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


# Scrape as Prometheus does: it asks for gzip and for the text format.
HEADERS = {"Accept-Encoding": "gzip", "Accept": "text/plain;version=0.0.4;q=1,*/*;q=0.1"}


def fetch(url):
    return urllib.request.urlopen(urllib.request.Request(url, headers=HEADERS)).read()


def run(name, binary, scrapes):
    port = free_port()
    proc = subprocess.Popen(
        [binary, f"--web.listen-address=127.0.0.1:{port}"] + FLAGS,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        for _ in range(500):
            try:
                fetch(url)
                break
            except OSError:
                time.sleep(0.02)
        for _ in range(5):
            fetch(url)
        cpu_ns, lat_ms, size = [], [], 0
        stat0 = stat_cpu_s(proc.pid)
        for _ in range(scrapes):
            before = sched_cpu_ns(proc.pid)
            t0 = time.perf_counter()
            body = fetch(url)
            lat_ms.append((time.perf_counter() - t0) * 1000)
            # The response is complete; give the server's last bookkeeping
            # on other threads a moment to be accounted.
            time.sleep(0.002)
            cpu_ns.append(sched_cpu_ns(proc.pid) - before)
            size = len(body)
        total_cpu_s = stat_cpu_s(proc.pid) - stat0
        rss_kb, hwm_kb = status_kb(proc.pid, "VmRSS"), status_kb(proc.pid, "VmHWM")
    finally:
        proc.kill()
        proc.wait()
    lat_ms.sort()
    return {
        "name": name,
        "cpu_median_ms": statistics.median(cpu_ns) / 1e6,
        "cpu_mean_ms": total_cpu_s * 1000 / scrapes,
        "lat_p50_ms": lat_ms[len(lat_ms) // 2],
        "lat_p99_ms": lat_ms[min(len(lat_ms) - 1, int(len(lat_ms) * 0.99))],
        "rss_mib": rss_kb / 1024,
        "rss_peak_mib": hwm_kb / 1024,
        "body_bytes": size,
    }


def main():
    scrapes, ref = int(sys.argv[1]), sys.argv[2]
    # Every further argument is BINARY or NAME=BINARY, measured in turn.
    ours = [a.split("=", 1) if "=" in a else ("beacon", a) for a in sys.argv[3:]]
    rows = [run("node_exporter", ref, scrapes)] + [run(n, b, scrapes) for n, b in ours]
    cols = ["cpu_median_ms", "cpu_mean_ms", "lat_p50_ms", "lat_p99_ms", "rss_mib", "rss_peak_mib", "body_bytes"]
    width = max(14, *(len(r["name"]) for r in rows))
    print(f"{'exporter':<{width}} " + " ".join(f"{c:>14}" for c in cols))
    for r in rows:
        print(f"{r['name']:<{width}} " + " ".join(f"{r[c]:>14.3f}" for c in cols))
    ref_r = rows[0]
    for our_r in rows[1:]:
        print(f"ratios {our_r['name']}/node_exporter:")
        for c in cols[:-1]:
            ratio = our_r[c] / ref_r[c] if ref_r[c] else float("nan")
            print(f"  {c:<14} {ratio:.3f}")


main()
