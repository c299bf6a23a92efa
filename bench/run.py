"""django-live-admin's benchmarks: `make bench` (or `python bench/run.py`).

Starts its own redis-server and ASGI servers on loopback, measures, and writes
docs/benchmarks.md, docs/benchmarks.json and docs/images/bench-*.png. `--quick` runs a small
version of every section (a smoke test of the bench itself, not figures to quote). `--only
reads` (or any comma-separated sections) runs just those, keeping the others from the
benchmarks.json already in `--out`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DOCS = ROOT / "docs"
sys.path.insert(0, str(HERE))

TMP = Path(tempfile.mkdtemp(prefix="live-admin-bench-"))
os.environ["BENCH_DB"] = str(TMP / "bench.sqlite3")
os.environ["DJANGO_SETTINGS_MODULE"] = "benchproject.settings"

import django  # noqa: E402

django.setup()

from busy import hogging  # noqa: E402
from capture import capture_cost  # noqa: E402
from catchup import catch_up  # noqa: E402
from collaboration import collaboration  # noqa: E402
from figures import spread  # noqa: E402
from reads import read_overhead  # noqa: E402
from refresh import REPEATS, refresh_cost  # noqa: E402
from report import UVICORN_RECOMMENDED  # noqa: E402
from scale import scale  # noqa: E402
from sockets import open_page  # noqa: E402
from streams import stream_fan_out  # noqa: E402
from tabs import tabs_cost  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

MODELS = "plain,live,dcrf"
SAVES_500 = "/bench/saves/?models=live&singles=500&batches=0"


# -- numbers ------------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


# -- processes ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


class Redis:
    def __init__(self) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--maxclients",
                "20000",
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_port(self.port)
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def command(self, *args: str) -> str:
        out = subprocess.run(
            ["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True, check=True
        )
        return out.stdout.strip()

    def connections(self) -> int:
        info = self.command("INFO", "stats")
        return int(info.split("total_connections_received:")[1].split()[0])

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def env_for(layer: str, redis: Redis) -> dict[str, str]:
    return {
        **os.environ,
        "BENCH_LAYER": layer,
        "BENCH_REDIS": redis.url,
        "PYTHONPATH": str(HERE),
    }


class Server:
    """daphne or uvicorn serving the bench project, one process."""

    def __init__(
        self,
        kind: str,
        layer: str,
        redis: Redis,
        env: dict | None = None,
        stock: bool = False,
        start_s: float = 30,
    ) -> None:
        """uvicorn runs as docs/deployment.md recommends (no permessage-deflate) unless
        ``stock``, with its own defaults."""
        self.kind, self.layer, self.port = kind, layer, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app = "benchproject.asgi:application"
        if kind == "daphne":
            args = ["-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), app]
        else:
            args = ["-m", "uvicorn", "--port", str(self.port), "--log-level", "warning"]
            args += [] if stock else UVICORN_RECOMMENDED
            args.append(app)
        self.log = open(TMP / f"{kind}-{layer}-{self.port}.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, *args],
            env={**env_for(layer, redis), **(env or {})},
            cwd=HERE,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_port(self.port, start_s)

    def get(self, path: str, cookie: str | None = None, headers: dict | None = None) -> bytes:
        request = urllib.request.Request(self.url + path, headers=dict(headers or {}))
        if cookie:
            request.add_header("Cookie", f"sessionid={cookie}")
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.read()

    def json(self, path: str) -> Any:
        return json.loads(self.get(path))

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@contextmanager
def server(
    kind: str, layer: str, redis: Redis, env: dict | None = None, stock: bool = False
) -> Iterator[Server]:
    s = Server(kind, layer, redis, env, stock)
    try:
        yield s
    finally:
        s.stop()


class Writer:
    """bench/writer.py in its own process: a management command or worker that saves."""

    def __init__(self, layer: str, redis: Redis, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "writer.py")],
            env={**env_for(layer, redis), **(env or {})},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def ask(self, command: str) -> Any:
        assert self.proc.stdin
        assert self.proc.stdout
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def stop(self) -> None:
        assert self.proc.stdin
        self.proc.stdin.close()
        self.proc.wait(30)


# -- set-up -------------------------------------------------------------------------------------


def prepare_database() -> str:
    """Tables, a superuser with a session (its cookie returned), 100 Items for the changelist."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command

    from benchapp.models import Item

    call_command("migrate", run_syncdb=True, verbosity=0)
    user = User.objects.create_superuser("bench", "bench@example.com", "bench")
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    Item.objects.bulk_create(Item(name=f"item {i}", n=i) for i in range(100))
    return session.session_key or ""


# -- 1. save overhead ---------------------------------------------------------------------------


def save_overhead(redis: Redis, runs: int, singles: int, batches: int) -> dict[str, Any]:
    """Per-save time for each model and layer, from a writer process and inside daphne; with
    Redis from a writer process a second time with every core busy; and what each part of
    live_admin's save path costs, both ways."""
    results: dict[str, Any] = {}
    parts: dict[str, Any] = {}
    for layer, context, busy in (
        ("memory", "sync", False),
        ("memory", "asgi", False),
        ("redis", "sync", False),
        ("redis", "asgi", False),
        ("redis", "sync", True),
    ):
        samples: dict[str, dict[str, list[float]]] = {}
        connections: dict[str, int] = {}
        spaced_samples: dict[str, list[float]] = {}
        per_run: dict[str, list[float]] = {}  # each run's own figures, for their spread
        name = f"{layer}/{context}" + ("/busy" if busy else "")
        with hogging() if busy else nullcontext():
            for _ in range(runs):
                if context == "sync":
                    writer = Writer(layer, redis)
                    writer.ask(f"saves {MODELS} 100 0 0")  # warm up: imports, connections
                    out = writer.ask(f"saves {MODELS} {singles} {batches} 100")
                    spaced = writer.ask(f"saves {MODELS} {singles // 4} 0 0 0.004")
                    for model, entry in spaced.items():
                        spaced_samples.setdefault(model, []).extend(entry["single"])
                    _added(per_run, "spaced_", spaced)
                    if layer == "redis":
                        for part, added in writer.ask(f"parts {singles // 2}").items():
                            parts.setdefault(name, {}).setdefault(part, []).append(added)
                    for model in ("live", "dcrf") if not busy else ():
                        before = redis.connections()  # Redis connections opened by 500 saves
                        writer.ask(f"saves {model} 500 0 0")
                        if not writer.ask("flush")["flushed"]:
                            raise RuntimeError("the writer's sender did not drain")
                        # less one: redis-cli's own connection to read the counter
                        connections[model] = redis.connections() - before - 1
                    writer.stop()
                else:
                    with server("daphne", layer, redis) as s:
                        s.json(f"/bench/saves/?models={MODELS}&singles=100&batches=0")
                        path = f"/bench/saves/?models={MODELS}&singles={singles}&batches={batches}"
                        out = s.json(path)
                for model, entry in out.items():
                    merge(samples, model, entry)
                _added(per_run, "", out)
        results[name] = summarise_saves(samples, connections, context)
        results[name]["runs"] = per_run
        for model, times in spaced_samples.items():
            base = spaced_samples["plain"]
            results[name][model]["spaced_added_p50_ms"] = ms(pct(times, 50) - pct(base, 50))
        print(f"saves {name}: {results[name]['live']}", flush=True)
    results["parts"] = parts
    return results


def _added(per_run: dict[str, list[float]], prefix: str, out: dict) -> None:
    """One run's added p50 (ms) of live_admin and DCRF, and DCRF's over live_admin's."""
    base = pct(out["plain"]["single"], 50)
    added = {m: ms(pct(out[m]["single"], 50) - base) for m in ("live", "dcrf")}
    for model, value in added.items():
        per_run.setdefault(f"{prefix}{model}", []).append(value)
    ratio = added["dcrf"] / added["live"] if added["live"] > 0 else float("inf")
    per_run.setdefault(f"{prefix}dcrf_over_live", []).append(round(ratio, 2))


def merge(samples: dict[str, dict[str, list[float]]], model: str, out: dict) -> None:
    entry = samples.setdefault(model, {"single": [], "batch": []})
    entry["single"].extend(out["single"])
    entry["batch"].extend(t / 100 for t in out["batch"])


def summarise_saves(
    samples: dict[str, dict[str, list[float]]], connections: dict[str, int], context: str
) -> dict[str, Any]:
    base = samples["plain"]
    summary: dict[str, Any] = {}
    for model, entry in samples.items():
        row = {
            "p50_ms": ms(pct(entry["single"], 50)),
            "p99_ms": ms(pct(entry["single"], 99)),
            "batch_p50_ms": ms(pct(entry["batch"], 50)),
            "added_p50_ms": ms(pct(entry["single"], 50) - pct(base["single"], 50)),
            "added_p99_ms": ms(pct(entry["single"], 99) - pct(base["single"], 99)),
            "added_batch_ms": ms(pct(entry["batch"], 50) - pct(base["batch"], 50)),
            "ratio": round(pct(entry["single"], 50) / pct(base["single"], 50), 3),
        }
        if context == "sync":
            row["redis_connections_per_500"] = connections.get(model, "")
        summary[model] = row
    return summary


# -- 2. fan-out latency -------------------------------------------------------------------------


class Clients:
    """Websocket clients in this process, each counting frames with their arrival times."""

    def __init__(self) -> None:
        self.sockets: list[Any] = []
        self.arrivals: list[list[tuple[float, dict]]] = []
        self.tasks: list[asyncio.Task] = []
        self.resyncs = 0

    async def add(self, url: str, origin: str, cookie: str, hello: dict, kind: str) -> None:
        expected = "subscribed" if kind == "live" else "subscribe_to_items"
        ws, resyncs = await open_page(url, origin, cookie, hello, expected, 60)
        self.resyncs += resyncs
        index = len(self.sockets)
        self.sockets.append(ws)
        self.arrivals.append([])
        self.tasks.append(asyncio.create_task(self._read(ws, index)))

    async def _read(self, ws: Any, index: int) -> None:
        async for frame in ws:
            self.arrivals[index].append((time.monotonic(), json.loads(frame)))

    async def grow(
        self, n: int, url: str, origin: str, cookie: str, hello: dict, kind: str
    ) -> None:
        while len(self.sockets) < n:
            batch = min(50, n - len(self.sockets))
            await asyncio.gather(
                *(self.add(url, origin, cookie, hello, kind) for _ in range(batch))
            )

    def received(self) -> int:
        return sum(len(a) for a in self.arrivals)

    def clear(self) -> None:
        for a in self.arrivals:
            a.clear()

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)


async def measure_rounds(
    clients: Clients, trigger: Any, rounds: int, sent_at: Any = None
) -> dict[str, Any]:
    """``rounds`` times: trigger one event and wait for it at every client; latency per arrival."""
    latencies: list[float] = []
    lost = 0
    for _ in range(rounds):
        clients.clear()
        committed = await trigger()
        deadline = time.monotonic() + 5
        while clients.received() < len(clients.sockets) and time.monotonic() < deadline:
            await asyncio.sleep(0.002)
        lost += len(clients.sockets) - clients.received()
        for arrivals in clients.arrivals:
            for at, frame in arrivals[:1]:
                start = sent_at(frame) if sent_at else committed
                latencies.append(at - start)
        await asyncio.sleep(0.05)
    return {
        "clients": len(clients.sockets),
        "p50_ms": ms(pct(latencies, 50)),
        "p99_ms": ms(pct(latencies, 99)),
        "max_ms": ms(max(latencies)) if latencies else None,
        "lost": lost,
    }


async def repeated_rounds(
    clients: Clients, trigger: Any, rounds: int, sent_at: Any = None
) -> dict[str, Any]:
    """``rounds`` split into ``REPEATS`` repetitions: the figures of all of them, and each
    repetition's p99 (for ratios to the floor taken repetition by repetition)."""
    each = max(3, rounds // REPEATS)
    parts = [await measure_rounds(clients, trigger, each, sent_at) for _ in range(REPEATS)]
    return {
        "clients": len(clients.sockets),
        "p50_ms": statistics.median(p["p50_ms"] for p in parts),
        "p99_ms": statistics.median(p["p99_ms"] for p in parts),
        "max_ms": max(p["max_ms"] or 0 for p in parts),
        "lost": sum(p["lost"] for p in parts),
        "p99_reps": [p["p99_ms"] for p in parts],
    }


async def fan_out_live(
    kind: str, layer: str, redis: Redis, cookie: str, ks: list[int], rounds: int, dcrf: bool = False
) -> list[dict[str, Any]]:
    rows = []
    with server(kind, layer, redis) as s:
        writer = Writer(layer, redis) if layer != "memory" else None
        model = "dcrf" if dcrf else "live"
        if dcrf:
            url, hello = (
                f"ws://127.0.0.1:{s.port}/ws/dcrf/",
                {
                    "action": "subscribe_to_items",
                    "request_id": 1,
                },
            )
        else:
            url = f"ws://127.0.0.1:{s.port}/ws/live-admin/"
            hello = {"type": "subscribe", "id": "i", "model": "benchapp.item"}

        async def trigger() -> float:
            if writer is None:
                out = await asyncio.to_thread(s.json, f"/bench/commit/?model={model}")
            else:
                out = await asyncio.to_thread(writer.ask, f"save {model}")
            return out["committed"]

        if not dcrf and writer is None:
            s.json(SAVES_500)  # warm up
            alone = s.json(SAVES_500)["live"]["single"]  # before any socket connects
        clients = Clients()
        try:
            for k in ks:
                await clients.grow(k, url, s.url, cookie, hello, "dcrf" if dcrf else "live")
                await measure_rounds(clients, trigger, 2)  # warm-up
                row = await repeated_rounds(clients, trigger, rounds)
                row.update(server=kind, layer=layer, system="dcrf" if dcrf else "live_admin")
                if not dcrf and k == ks[-1] and writer is None:
                    # the save's cost with k sockets connected, against none (measured first)
                    saves = s.json(SAVES_500)["live"]["single"]
                    row["save_p50_ms_with_sockets"] = ms(pct(saves, 50))
                    row["save_p50_ms_no_sockets"] = ms(pct(alone, 50))
                rows.append(row)
                print(f"fan-out {row}", flush=True)
        finally:
            await clients.close()
            if writer:
                writer.stop()
    return rows


async def fan_out_floor(ks: list[int], rounds: int) -> list[dict[str, Any]]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(HERE / "floor.py"), str(port)])
    rows = []
    try:
        wait_port(port)
        url = f"ws://127.0.0.1:{port}/"
        control = await connect(url)
        clients = Clients()

        async def trigger() -> float:
            await control.send("go")
            return 0.0

        for k in ks:
            await clients.grow(k, url, "http://127.0.0.1", "", {}, "floor")
            await measure_rounds(clients, trigger, 2, sent_at=lambda frame: frame["t"])
            row = await repeated_rounds(clients, trigger, rounds, sent_at=lambda frame: frame["t"])
            row.update(server="websockets", layer="-", system="floor")
            rows.append(row)
            print(f"fan-out {row}", flush=True)
        await clients.close()
        await control.close()
    finally:
        proc.terminate()
        proc.wait(10)
    return rows


# -- 3. burst coalescing ------------------------------------------------------------------------


async def burst(redis: Redis, cookie: str, saves: int) -> dict[str, Any]:
    """``REPEATS`` bursts of ``saves`` saves in a second; each replayed through the page's
    debouncer."""
    runs = [await _burst_once(redis, cookie, saves) for _ in range(REPEATS)]
    return {
        "saves": saves,
        "saves_took_s": round(statistics.median(r["took"] for r in runs), 3),
        "messages_per_socket": statistics.median(r["messages"] for r in runs),
        "refreshes_per_page": spread([r["refreshes"] for r in runs], 1),
    }


async def _burst_once(redis: Redis, cookie: str, saves: int) -> dict[str, float]:
    with server("daphne", "redis", redis) as s:
        writer = Writer("redis", redis)
        clients = Clients()
        url = f"ws://127.0.0.1:{s.port}/ws/live-admin/"
        hello = {"type": "subscribe", "id": "i", "model": "benchapp.item"}
        await clients.grow(10, url, s.url, cookie, hello, "live")
        out = await asyncio.to_thread(writer.ask, f"burst {saves} 1")
        assert (await asyncio.to_thread(writer.ask, "flush"))["flushed"]
        deadline = time.monotonic() + 10
        while clients.received() < saves * 10 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        per_socket = [len(a) for a in clients.arrivals]
        first = clients.arrivals[0]
        offsets = [round((at - first[0][0]) * 1000, 3) for at, _ in first]
        await clients.close()
        writer.stop()
    replay = subprocess.run(
        ["node", str(HERE / "burst.js")], input=json.dumps(offsets), capture_output=True, text=True
    )
    if replay.returncode != 0:
        raise RuntimeError(replay.stderr)
    return {
        "took": out["took"],
        "messages": statistics.median(per_socket),
        "refreshes": json.loads(replay.stdout)["refreshes"],
    }


# -- 4. refresh cost: bench/refresh.py ------------------------------------------------------------


# -- 5. memory and scale ------------------------------------------------------------------------


async def memory(
    redis: Redis, cookie: str, levels: list[int], cycles: int, big: int
) -> dict[str, Any]:
    hello = {"type": "subscribe", "id": "i", "model": "benchapp.item"}

    async def rss(s: Server) -> int:
        await asyncio.sleep(1)
        return (await asyncio.to_thread(s.json, "/bench/state/?trim=1"))["rss_kb"]

    async def warmed(s: Server) -> tuple[str, int]:
        """The server's socket URL, and its RSS once a few sockets came and went (so that the
        baseline includes its code and caches)."""
        url = f"ws://127.0.0.1:{s.port}/ws/live-admin/"
        warm = Clients()
        await warm.grow(50, url, s.url, cookie, hello, "live")
        await warm.close()
        return url, await rss(s)

    async def levels_run() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """One fresh daphne: RSS at each level of idle sockets, then one change to all."""
        with server("daphne", "redis", redis) as s:
            writer = Writer("redis", redis)
            url, base = await warmed(s)
            clients = Clients()
            per_level = []
            for n in levels:
                await clients.grow(n, url, s.url, cookie, hello, "live")
                used = await rss(s)
                per_level.append(
                    {"sockets": n, "rss_kb": used, "kb_per_socket": round((used - base) / n, 1)}
                )
                print(f"memory {per_level[-1]}", flush=True)

            async def trigger() -> float:
                return (await asyncio.to_thread(writer.ask, "save live"))["committed"]

            fan = await measure_rounds(clients, trigger, 3)
            await clients.close()
            deadline = time.monotonic() + 120
            while (await asyncio.to_thread(s.json, "/bench/state/"))["sockets"]:
                if time.monotonic() > deadline:
                    raise RuntimeError("sockets still counted 2 minutes after they closed")
                await asyncio.sleep(0.5)
            writer.stop()
        return per_level, fan

    async def stock_run(n: int) -> dict[str, Any]:
        """uvicorn with its own defaults (permessage-deflate on), then as recommended: memory
        per idle socket at ``n`` sockets, side by side."""
        out = {}
        for stock in (True, False):
            with server("uvicorn", "redis", redis, stock=stock) as s:
                url, base = await warmed(s)
                clients = Clients()
                await clients.grow(n, url, s.url, cookie, hello, "live")
                used = await rss(s)
                await clients.close()
            out["stock" if stock else "recommended"] = round((used - base) / n, 1)
        print(f"memory, uvicorn's options at {n} sockets: {out}", flush=True)
        return out

    async def big_run() -> dict[str, Any]:
        """One fresh uvicorn process holding ``big`` idle sockets: memory per socket, and one
        change to all of them."""
        with server("uvicorn", "redis", redis) as s:
            writer = Writer("redis", redis)
            url, base = await warmed(s)
            clients = Clients()
            started = time.monotonic()
            await clients.grow(big, url, s.url, cookie, hello, "live")
            connected_s = time.monotonic() - started
            used = await rss(s)

            async def save() -> float:
                return (await asyncio.to_thread(writer.ask, "save live"))["committed"]

            fan = await measure_rounds(clients, save, 3)
            await clients.close()
            writer.stop()
        run = {
            "sockets": big,
            "connected_s": round(connected_s, 1),
            "rss_kb": used,
            "kb_per_socket": round((used - base) / big, 1),
            "fan_out": fan,
        }
        print(f"memory {run}", flush=True)
        return run

    level_runs = [await levels_run() for _ in range(REPEATS)]
    per_level = [
        {
            "sockets": n,
            "rss_kb": statistics.median(run[i]["rss_kb"] for run, _ in level_runs),
            "kb_per_socket": statistics.median(run[i]["kb_per_socket"] for run, _ in level_runs),
            "kb": spread([run[i]["kb_per_socket"] for run, _ in level_runs], 1),
        }
        for i, n in enumerate(levels)
    ]
    stock_runs = [await stock_run(min(big, 2000)) for _ in range(REPEATS)]
    big_runs = [await big_run() for _ in range(REPEATS)]
    big_summary = {
        "sockets": big,
        "connected_s": spread([r["connected_s"] for r in big_runs], 1),
        "rss_kb": statistics.median(r["rss_kb"] for r in big_runs),
        "kb": spread([r["kb_per_socket"] for r in big_runs], 1),
        "fan_out": _fans([r["fan_out"] for r in big_runs]),
    }
    cycled = await _cycles(redis, cookie, hello, cycles, rss)
    runs = cycled["runs"]
    return {
        "levels": per_level,
        "worst_kb": spread([max(lv["kb_per_socket"] for lv in run) for run, _ in level_runs], 1),
        "fan_out_all": _fans([fan for _, fan in level_runs]),
        "big": big_summary,
        "uvicorn_options": {
            "sockets": min(big, 2000),
            **{k: spread([r[k] for r in stock_runs], 1) for k in ("stock", "recommended")},
        },
        "cycles": cycles,
        **runs[-1],  # the last run's counts, as before repeated runs
        "cycle_runs": runs,
        "first_cycles": cycled["first"],
        "growth_pct": spread([r["growth_pct"] for r in runs], 2),
    }


def _fans(fans: list[dict[str, Any]]) -> dict[str, Any]:
    """Repetitions of one fan-out: the median p50 and p99, the p99's spread, every loss."""
    return {
        "clients": fans[0]["clients"],
        "p50_ms": statistics.median(f["p50_ms"] for f in fans),
        "p99_ms": statistics.median(f["p99_ms"] for f in fans),
        "p99": spread([f["p99_ms"] for f in fans]),
        "lost": sum(f["lost"] for f in fans),
    }


async def _cycles(redis: Redis, cookie: str, hello: dict, cycles: int, rss: Any) -> dict[str, Any]:
    """On one fresh daphne, a first batch of ``cycles`` connect/subscribe/disconnect cycles
    (the process grows its caches and allocator arenas), then ``REPEATS`` more: RSS before and
    after each, and what each leaves behind. A leak grows every batch alike."""
    from live_admin import protocol as groups

    group_key = f"asgi:group:{groups.model_group('benchapp.item')}"
    # A fresh server: after thousands of sockets the allocator hands memory back over minutes,
    # which would read as the cycles shrinking the process.
    with server("daphne", "redis", redis) as s:
        url = f"ws://127.0.0.1:{s.port}/ws/live-admin/"

        async def cycle(n: int) -> int:
            resyncs = 0
            for _ in range(n):
                c = Clients()
                await c.add(url, s.url, cookie, hello, "live")
                await c.close()
                resyncs += c.resyncs
            return resyncs

        async def batch() -> dict[str, Any]:
            workers = 25
            before = await rss(s)
            start = time.monotonic()
            resyncs = await asyncio.gather(*(cycle(cycles // workers) for _ in range(workers)))
            took = time.monotonic() - start
            await asyncio.sleep(3)  # closes still in flight
            after = await rss(s)
            state = await asyncio.to_thread(s.json, "/bench/state/")
            print(f"memory cycles: {before} -> {after} KB", flush=True)
            return {
                "cycles_took_s": round(took, 1),
                "rss_before_cycles_kb": before,
                "rss_after_cycles_kb": after,
                "growth_pct": round(100 * (after - before) / before, 2),
                "sockets_left": state["sockets"],
                "buffers_left": state["buffers"],
                "group_members_left": int(redis.command("ZCARD", group_key)),
                "resyncs_in_cycles": sum(resyncs),
            }

        first = await batch()
        runs = [await batch() for _ in range(REPEATS)]
    return {"first": first, "runs": runs}


# -- report -------------------------------------------------------------------------------------


def fan_out_all(redis: Redis, cookie: str, ks: list[int], rounds: int) -> list[dict[str, Any]]:
    fan = asyncio.run(fan_out_floor(ks, rounds))
    for kind in ("daphne", "uvicorn"):
        for layer in ("memory", "redis", "pubsub"):
            fan += asyncio.run(fan_out_live(kind, layer, redis, cookie, ks, rounds))
    for layer in ("memory", "redis"):
        fan += asyncio.run(fan_out_live("daphne", layer, redis, cookie, ks, rounds, dcrf=True))
    return fan


def machine() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    def installed(name: str) -> str:  # "absent" lets `--only reads` run in the dev .venv
        try:
            return version(name)
        except PackageNotFoundError:
            return "absent"

    return {
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "django": django.get_version(),
        **{
            key: installed(name)
            for key, name in (
                ("channels", "channels"),
                ("channels_redis", "channels-redis"),
                ("daphne", "daphne"),
                ("uvicorn", "uvicorn"),
                ("websockets", "websockets"),
                ("djangochannelsrestframework", "djangochannelsrestframework"),
            )
        },
        "redis_server": subprocess.run(
            ["redis-server", "--version"], capture_output=True, text=True
        ).stdout.split()[2],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a small run of every section")
    parser.add_argument("--out", type=Path, default=DOCS, help="where the report goes")
    parser.add_argument("--resume", action="store_true", help="keep the sections a failed run did")
    parser.add_argument(
        "--only",
        help="comma-separated sections to run (saves, fan_out, burst, refresh, memory, reads,"
        " collaboration, scale, capture, catchup, tabs, streams);"
        " the others are kept from the benchmarks.json in --out",
    )
    args = parser.parse_args()
    quick = args.quick
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    load_before = os.getloadavg()
    print(f"bench: machine load (1, 5, 15 min) before: {load_before}")
    cookie = prepare_database()
    redis = Redis()
    ks = [10, 100] if quick else [10, 100, 200, 1000]
    rounds = 5 if quick else 20
    results: dict[str, Any] = {"machine": machine(), "quick": quick}
    args.out.mkdir(parents=True, exist_ok=True)
    partial = args.out / "benchmarks.partial.json"  # kept if a later section fails
    if args.resume and partial.exists():
        results = json.loads(partial.read_text())
    sections = {
        "saves": lambda: save_overhead(
            redis,
            runs=1 if quick else 3,
            singles=200 if quick else 2000,
            batches=2 if quick else 20,
        ),
        "fan_out": lambda: fan_out_all(redis, cookie, ks, rounds),
        "burst": lambda: asyncio.run(burst(redis, cookie, 100 if quick else 1000)),
        "refresh": lambda: refresh_cost(server, redis, cookie, quick, free_port),
        "memory": lambda: asyncio.run(
            memory(
                redis,
                cookie,
                [100, 500] if quick else [1000, 5000],
                500 if quick else 10_000,
                1000 if quick else 10_000,
            )
        ),
        "reads": lambda: read_overhead(redis.url, f"redis://127.0.0.1:{free_port()}/0", quick),
        "collaboration": lambda: collaboration(server, redis, cookie, quick),
        "scale": lambda: scale(
            redis,
            cookie,
            Server,
            lambda: Writer("redis", redis),
            processes=2 if quick else 4,
            per=500 if quick else 10_000,
            rounds=3,
        ),
        "capture": lambda: capture_cost(
            server, Writer, Clients, repeated_rounds, redis, quick, free_port
        ),
        "catchup": lambda: catch_up(server, redis, cookie, quick),
        "tabs": lambda: tabs_cost(server, redis, cookie, quick),
        "streams": lambda: asyncio.run(
            stream_fan_out(
                server, redis, cookie, 100 if quick else 1000, rounds, Clients, repeated_rounds
            )
        ),
    }
    only = set(args.only.split(",")) if args.only else set()
    if only - sections.keys():
        redis.stop()
        parser.error(f"--only: no section {', '.join(sorted(only - sections.keys()))}")
    if only:
        earlier = args.out / "benchmarks.json"
        if earlier.exists():
            kept = json.loads(earlier.read_text())
            results = {**kept, **results, "section_s": kept.get("section_s", {})}
        for name in only:
            results.pop(name, None)
        results["only"] = sorted(only)
    try:
        for name, run_section in sections.items():
            if name not in results and (not only or name in only):
                started_section = time.monotonic()
                results[name] = run_section()
                results.setdefault("section_s", {})[name] = round(
                    time.monotonic() - started_section
                )
                partial.write_text(json.dumps(results, indent=2))
    finally:
        redis.stop()
    results["took_s"] = sum(results["section_s"].values())
    load_after = os.getloadavg()
    print(f"bench: machine load (1, 5, 15 min) after: {load_after}")
    results["machine"]["load"] = {"before": load_before, "after": load_after}
    partial.unlink(missing_ok=True)
    from report import write_report

    write_report(results, args.out)
    print(f"bench: done in {results['took_s']} s; report in {args.out / 'benchmarks.md'}")


if __name__ == "__main__":
    main()
