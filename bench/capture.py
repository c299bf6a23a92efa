"""9. Database capture: what it adds to a write, and how soon a write from psql reaches pages.

``python bench/run.py --only capture`` runs this section alone.

On a PostgreSQL cluster of the bench's own, two databases: one migrated with
``CAPTURE = "signals"`` (no triggers) and one with ``"database"`` (the triggers). A writer
process on Redis times single-row saves (``create()``: the observers tell them; with the
triggers, the statement carries its mark and the trigger returns at once) and one-row
``update()``s (no signal: with the triggers, each one's trigger builds and sends its
notification), of the unobserved and the live model, the two databases taking turns run by run.
Then daphne on Redis with database capture, 1 and 1,000 sockets following the live model: the
time from a ``psql``-style commit (an ``UPDATE`` on a connection of the bench's own) to each
socket's message, and from an ORM save in a writer process (the observers' path) for comparison.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from figures import shown, spread

HERE = Path(__file__).resolve().parent
MODES = ("signals", "database")
_SETUP = "import run\nprint(run.prepare_database())\n"


def _p50_ms(times: list[float]) -> float:
    return round(statistics.median(times) * 1000, 4)


def _env(port: int, mode: str) -> dict[str, str]:
    return {"BENCH_PG": str(port), "BENCH_PG_DB": mode, "BENCH_CAPTURE": mode}


def capture_cost(
    server: Any, writer: Any, clients: Any, rounds_of: Any, redis: Any, quick: bool, free_port: Any
) -> dict[str, Any]:
    """Section 9; run.py's ``server``, ``Writer``, ``Clients`` and ``repeated_rounds`` are
    handed in (importing it again would make a second bench directory and database)."""
    sys.path.insert(0, str(HERE.parent / "tests"))
    from postgres import PostgresServer  # tests/postgres.py: Debian's PostgreSQL, own cluster

    runs, singles, updates = (1, 200, 200) if quick else (3, 2000, 2000)
    pg = PostgresServer(free_port())
    try:
        cookies = {}
        for mode in MODES:
            pg.psql(f"CREATE DATABASE {mode}")
            made = subprocess.run(
                [sys.executable, "-c", _SETUP],
                env={**os.environ, **_env(pg.port, mode), "PYTHONPATH": str(HERE)},
                cwd=HERE,
                capture_output=True,
                text=True,
                check=True,
            )
            cookies[mode] = made.stdout.strip().splitlines()[-1]
        triggers = pg.psql(
            "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'pgtrigger_live%'", "database"
        )
        result: dict[str, Any] = {
            "triggers": int(triggers),
            "writes": _writes(writer, redis, pg.port, runs, singles, updates),
        }
        ks = [1, 100] if quick else [1, 1000]
        result["latency"] = asyncio.run(
            _latency(
                server,
                writer,
                clients,
                rounds_of,
                redis,
                pg.port,
                cookies["database"],
                ks,
                5 if quick else 20,
            )
        )
    finally:
        pg.stop()
    return result


def _writes(
    writer: Any, redis: Any, port: int, runs: int, singles: int, updates: int
) -> dict[str, Any]:
    """Added p50 per write over the unobserved model, each database's runs taking turns."""
    added: dict[str, dict[str, list[float]]] = {m: {"save": [], "update": []} for m in MODES}
    base: dict[str, dict[str, list[float]]] = {m: {"save": [], "update": []} for m in MODES}
    for _ in range(runs):
        for mode in MODES:
            w = writer("redis", redis, _env(port, mode))
            try:
                w.ask("saves plain,live 100 0 0")  # warm up: imports, connections
                saved = w.ask(f"saves plain,live {singles} 0 0")
                updated = w.ask(f"updates plain,live {updates}")
            finally:
                w.stop()
            for kind, out in (
                ("save", {k: v["single"] for k, v in saved.items()}),
                ("update", updated),
            ):
                base[mode][kind].append(_p50_ms(out["plain"]))
                added[mode][kind].append(round(_p50_ms(out["live"]) - _p50_ms(out["plain"]), 4))
    return {
        mode: {
            kind: {
                "plain_p50_ms": spread(base[mode][kind], 4),
                "added_p50_ms": spread(added[mode][kind], 4),
            }
            for kind in ("save", "update")
        }
        for mode in MODES
    }


async def _latency(
    server: Any,
    writer: Any,
    clients_of: Any,
    rounds_of: Any,
    redis: Any,
    port: int,
    cookie: str,
    ks: list[int],
    rounds: int,
) -> list[dict[str, Any]]:
    import psycopg

    rows = []
    env = _env(port, "database")
    with server("daphne", "redis", redis, env) as s:
        w = writer("redis", redis, env)
        conn = await psycopg.AsyncConnection.connect(
            host="127.0.0.1", port=port, user="postgres", dbname="database", autocommit=True
        )
        pk = (await (await conn.execute("SELECT min(id) FROM benchapp_item")).fetchone())[0]

        async def psql() -> float:
            await conn.execute("UPDATE benchapp_item SET n = n + 1 WHERE id = %s", [pk])
            return time.monotonic()

        async def orm() -> float:
            return (await asyncio.to_thread(w.ask, "save live"))["committed"]

        url = f"ws://127.0.0.1:{s.port}/ws/live-admin/"
        hello = {"type": "subscribe", "id": "i", "model": "benchapp.item"}
        clients = clients_of()
        try:
            for k in ks:
                await clients.grow(k, url, s.url, cookie, hello, "live")
                for name, trigger in (
                    ("psql commit (trigger, listener)", psql),
                    ("ORM save (observers)", orm),
                ):
                    await rounds_of(clients, trigger, 3)  # warm-up (the first: the listener's lead)
                    row = await rounds_of(clients, trigger, rounds)
                    row["write"] = name
                    rows.append(row)
                    print(f"capture latency {row}", flush=True)
        finally:
            await clients.close()
            await conn.close()
            w.stop()
    return rows


def section(result: dict[str, Any]) -> list[str]:
    """The report's section 9."""
    lines = [
        "## 9. Database capture",
        "",
        "PostgreSQL (a cluster of the bench's own), Redis layer. *Writes*: a writer process's "
        "single-row saves (`create()`, told by the observers; with the triggers the statement "
        "carries its mark and the trigger returns at once) and one-row `update()`s (no signal: "
        "with the triggers, the trigger builds and sends a notification), added p50 (ms) over "
        "the unobserved model, the two databases taking turns; median of the runs (min to max). "
        f"`database` has {result['triggers']} triggers: 4 on each observed table.",
        "",
        "| capture | save: unobserved p50 | save: added p50 | update(): unobserved p50"
        " | update(): added p50 |",
        "|---|---|---|---|---|",
    ]
    for mode in MODES:
        w = result["writes"][mode]
        lines.append(
            f"| {mode} | {shown(w['save']['plain_p50_ms'])} | {shown(w['save']['added_p50_ms'])} "
            f"| {shown(w['update']['plain_p50_ms'])} | {shown(w['update']['added_p50_ms'])} |"
        )
    lines += [
        "",
        "*Latency*: daphne on Redis with database capture; from the commit to each socket's "
        "message (ms), median of 3 repetitions' p50 and p99.",
        "",
        "| write | sockets | p50 | p99 | max | lost |",
        "|---|---|---|---|---|---|",
    ]
    for row in result["latency"]:
        lines.append(
            f"| {row['write']} | {row['clients']} | {row['p50_ms']} | {row['p99_ms']} "
            f"| {row['max_ms']} | {row['lost']} |"
        )
    return [*lines, ""]
