"""8. Past one process: idle pages spread over several uvicorn processes on one Redis.

Each server process gets a crowd of its own (bench/crowd.py, one client process per server, so
that no one client's event loop is what is measured). One writer process saves; every page
follows the saved model. Measured: each server's RSS per socket, one change's latency to every
page (commit to first frame), pages that got nothing, and Redis's CPU time per change.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from figures import shown, spread

HERE = Path(__file__).resolve().parent
WAIT_SECONDS = 20.0
READY_SECONDS = 900


def _ask(proc: subprocess.Popen[str], command: str) -> Any:
    assert proc.stdin
    assert proc.stdout
    proc.stdin.write(command + "\n")
    proc.stdin.flush()
    return json.loads(proc.stdout.readline())


def _redis_cpu(redis: Any) -> float:
    info = redis.command("INFO", "cpu")
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    return float(fields["used_cpu_sys"]) + float(fields["used_cpu_user"])


def scale(
    redis: Any,
    cookie: str,
    server: Callable[..., Any],
    writer: Callable[[], Any],
    processes: int,
    per: int,
    rounds: int,
) -> dict[str, Any]:
    """``processes`` uvicorn processes with ``per`` idle pages each; ``rounds`` changes."""
    servers = [server("uvicorn", "redis", redis) for _ in range(processes)]
    crowds: list[subprocess.Popen[str]] = []
    saver = None
    try:
        for s in servers:  # warm: the first request builds what every later one uses
            s.json("/bench/state/")
        base = [s.json("/bench/state/?trim=1")["rss_kb"] for s in servers]
        started = time.monotonic()
        for s in servers:
            url = f"ws://127.0.0.1:{s.port}/ws/live-admin/"
            crowds.append(
                subprocess.Popen(
                    [sys.executable, str(HERE / "crowd.py"), url, s.url, cookie, str(per)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
        ready = [json.loads(c.stdout.readline()) for c in crowds]  # type: ignore[union-attr]
        connected_s = time.monotonic() - started
        time.sleep(1)
        used = [s.json("/bench/state/?trim=1")["rss_kb"] for s in servers]
        saver = writer()
        saver.ask("save live")  # the writer's own first save: imports, connections
        assert saver.ask("flush")["flushed"]
        latencies: list[float] = []
        lost = 0
        cpu_before, began = _redis_cpu(redis), time.monotonic()
        for _ in range(rounds):
            for crowd in crowds:
                _ask(crowd, "arm")
            committed = saver.ask("save live")["committed"]
            for crowd in crowds:
                got = _ask(crowd, f"wait {WAIT_SECONDS}")
                latencies += [at - committed for at in got["arrivals"]]
                lost += got["lost"]
        cpu_changes, spent = _redis_cpu(redis) - cpu_before, time.monotonic() - began
        # As long again with the pages idle: what Redis spends anyway (the hubs' reads and
        # probes), taken off the changes' figure.
        cpu_idle_start = _redis_cpu(redis)
        time.sleep(spent)
        cpu_idle = _redis_cpu(redis) - cpu_idle_start
    finally:
        for crowd in crowds:
            if crowd.poll() is None:
                crowd.stdin.close()  # type: ignore[union-attr]
                crowd.wait(120)
        if saver is not None:
            saver.stop()
        for s in servers:
            s.stop()
    ordered = sorted(latencies)
    kb = [(u - b) / per for u, b in zip(used, base, strict=True)]
    out = {
        "processes": processes,
        "sockets": processes * per,
        "connected_s": round(connected_s, 1),
        "resyncs": sum(r["resyncs"] for r in ready),
        "kb_per_socket": spread(kb, 1),
        "rounds": rounds,
        "p50_ms": round(statistics.median(ordered) * 1000, 1) if ordered else None,
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 1) if ordered else None,
        "lost": lost,
        "redis_cpu_ms_per_change": round(max(cpu_changes - cpu_idle, 0) * 1000 / rounds, 2),
        "redis_cpu_ms_idle_per_s": round(cpu_idle * 1000 / spent, 2),
    }
    print(f"scale: {out}", flush=True)
    return out


def section(r: dict[str, Any]) -> list[str]:
    return [
        "## 8. Past one process",
        "",
        f"{r['sockets']:,} idle pages, {r['sockets'] // r['processes']:,} on each of"
        f" {r['processes']} uvicorn processes (as docs/deployment.md recommends) on one Redis,"
        " all on this machine's loopback; each server has a client process of its own. One"
        f" writer process saves {r['rounds']} times; every page follows the saved model.",
        "",
        f"- Connected and subscribed in {r['connected_s']} s ({r['resyncs']} joins retried).",
        f"- Memory: {shown(r['kb_per_socket'])} KB per idle socket, server RSS above its"
        " warmed-up baseline (min to max across the processes).",
        f"- One change to all {r['sockets']:,}: p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms"
        f" (commit to first frame, over {r['rounds']} changes); pages that got nothing:"
        f" {r['lost']} (target 0).",
        f"- Redis CPU per change: {r['redis_cpu_ms_per_change']} ms"
        f"{' (none above the noise)' if not r['redis_cpu_ms_per_change'] else ''} (`INFO cpu`,"
        " user and"
        " system, over the changes, less what as long a time with the pages idle took:"
        f" about {r['redis_cpu_ms_idle_per_s']} ms a second for the processes' own reads and"
        " probes).",
        "",
    ]
