"""4. Refresh cost: what one change costs the server, whole-list refreshes against row refreshes.

``python bench/run.py --only refresh`` runs this section alone.

A changelist of 100 rows a page (the bench's ``Item`` admin) on daphne with Redis, over
loopback: the page load, the page's whole-list refresh (``X-Live-Admin-Refresh``) and its row
refresh of one row (``X-Live-Admin-Rows``), interleaved, on SQLite and on PostgreSQL tables of
10,000 and 1,000,000 rows (where the admin's counts cost most). Then 50 pages refreshing after
one change, whole lists or one row, the server's CPU per change. Every figure is the median of
``REPEATS`` repetitions, with their spread; ratios are taken repetition by repetition.
"""

from __future__ import annotations

import functools
import json
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

from figures import judged, shown, spread

REPEATS = 3
PATH = "/admin/benchapp/item/"
REFRESH = {"X-Live-Admin-Refresh": "1", "HX-Request": "true"}
TARGET_RATIO = 0.2
HERE = Path(__file__).resolve().parent

_SETUP = """
import run
from django.db import connection
key = run.prepare_database()
with connection.cursor() as cursor:
    cursor.execute(
        "INSERT INTO benchapp_item (name, n)"
        " SELECT 'item ' || i, i FROM generate_series(101, %s) i",
        [{rows}],
    )
    cursor.execute("ANALYZE")
print(key)
"""


def _rows(pk: str) -> dict[str, str]:
    return {"X-Live-Admin-Rows": quote(json.dumps([pk]))}


def _cpu(s: Any) -> float:
    return s.json("/bench/state/")["cpu_s"]


def _process_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cluster_cpu(data: Path) -> float:
    """CPU seconds of a PostgreSQL cluster: its postmaster and the processes it started."""
    postmaster = int((data / "postmaster.pid").read_text().split()[0])
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if int(entry.name) == postmaster or parent == postmaster:
                total += _process_cpu(int(entry.name))
        except (OSError, ValueError):
            continue  # a process that ended meanwhile
    return total


def measure(
    s: Any, cookie: str, samples: int, pages: int, changes: int, db_cpu: Any = None
) -> dict[str, Any]:
    """Request times (ms) and CPU per change (ms) on server ``s``, per repetition; with
    ``db_cpu`` (seconds of the database server's CPU), that counts too."""

    def cpu() -> float:
        return _cpu(s) + (db_cpu() if db_cpu else 0.0)

    page = s.get(PATH, cookie).decode()
    pk = re.search(r'class="action-select" value="([^"]+)"', page)
    pk = pk[1] if pk else re.findall(r'value="(\d+)"[^>]*class="action-select"', page)[0]
    if f'value="{pk}"'.encode() not in s.get(PATH, cookie, _rows(pk)):
        raise RuntimeError("the row refresh did not render the row")
    kinds = {"page": {}, "refresh": REFRESH, "rows": _rows(pk)}
    jar = f"sessionid={cookie}"

    def timed(headers: dict, server: list[float] | None = None) -> float:
        """The request's time as the client saw it; the server's own (``Server-Timing``, the
        time in Django) appended to ``server``."""
        request = urllib.request.Request(s.url + PATH, headers={**headers, "Cookie": jar})
        began = time.perf_counter()
        with urllib.request.urlopen(request, timeout=120) as response:
            response.read()
        took = (time.perf_counter() - began) * 1000
        if server is not None:
            server.append(float(response.headers["Server-Timing"].split("dur=")[1]))
        return took

    for headers in kinds.values():  # warm up
        for _ in range(3):
            timed(headers)
    out: dict[str, Any] = {kind: [] for kind in kinds}
    out.update({f"{kind}_server": [] for kind in kinds}, cpu_refresh=[], cpu_rows=[])
    with ThreadPoolExecutor(8) as pool:
        for _ in range(REPEATS):
            times: dict[str, list[float]] = {kind: [] for kind in kinds}
            server: dict[str, list[float]] = {kind: [] for kind in kinds}
            for _ in range(samples):  # interleaved, so all three see the same machine
                for kind, headers in kinds.items():
                    times[kind].append(timed(headers, server[kind]))
            for kind in kinds:
                out[kind].append(statistics.median(times[kind]))
                out[f"{kind}_server"].append(statistics.median(server[kind]))
            per_change: dict[str, list[float]] = {"refresh": [], "rows": []}
            for _ in range(changes):
                for kind in per_change:
                    before = cpu()
                    list(pool.map(lambda _, h=kinds[kind]: timed(h), range(pages)))
                    per_change[kind].append((cpu() - before) * 1000)
            out["cpu_refresh"].append(statistics.median(per_change["refresh"]))
            out["cpu_rows"].append(statistics.median(per_change["rows"]))
    return out


def queries(cookie_user: str = "bench") -> dict[str, dict[str, int]]:
    """Queries per request, counted in this process (SQLite), and how many of them count."""
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(User.objects.get(username=cookie_user))
    page = client.get(PATH).content.decode()
    pk = re.findall(r'value="(\d+)"', page.split('class="action-select"', 1)[0])[-1]
    found = {}
    for kind, headers in (("page", {}), ("refresh", REFRESH), ("rows", _rows(pk))):
        with CaptureQueriesContext(connection) as captured:
            client.get(PATH, headers=headers)
        sql = [q["sql"].upper() for q in captured.captured_queries]
        found[kind] = {"all": len(sql), "count": sum("COUNT(" in q for q in sql)}
    return found


def summarise(raw: dict[str, Any]) -> dict[str, Any]:
    def ratio(a: str, b: str) -> dict[str, float]:  # repetition by repetition
        return spread([x / y for x, y in zip(raw[a], raw[b], strict=True)])

    kinds = ("page", "refresh", "rows", "page_server", "refresh_server", "rows_server")
    return {
        **{kind: spread(raw[kind]) for kind in kinds},
        "cpu_refresh": spread(raw["cpu_refresh"], 1),
        "cpu_rows": spread(raw["cpu_rows"], 1),
        "rows_to_page": ratio("rows", "page"),
        "rows_to_page_server": ratio("rows_server", "page_server"),
        "cpu_ratio": ratio("cpu_rows", "cpu_refresh"),
    }


def refresh_cost(
    server: Any, redis: Any, cookie: str, quick: bool, free_port: Any
) -> dict[str, Any]:
    """Section 4; ``server`` and ``free_port`` are run.py's (importing it again would make a
    second bench directory and database)."""
    sys.path.insert(0, str(HERE.parent / "tests"))
    from postgres import PostgresServer  # tests/postgres.py: Debian's PostgreSQL, own cluster

    samples, pages, changes = (8, 10, 2) if quick else (30, 50, 6)
    result: dict[str, Any] = {"queries": queries(), "pages": pages, "databases": {}}
    with server("daphne", "redis", redis) as s:
        result["databases"]["SQLite"] = summarise(measure(s, cookie, samples, pages, changes))
    for rows in (10_000,) if quick else (10_000, 1_000_000):
        pg = PostgresServer(free_port())
        try:
            env = {"BENCH_PG": str(pg.port)}
            made = subprocess.run(
                [sys.executable, "-c", _SETUP.format(rows=rows)],
                env={**os.environ, **env, "PYTHONPATH": str(HERE)},
                cwd=HERE,
                capture_output=True,
                text=True,
                check=True,
            )
            pg_cookie = made.stdout.strip().splitlines()[-1]
            with server("daphne", "redis", redis, env) as s:
                db_cpu = functools.partial(cluster_cpu, pg.directory / "data")
                raw = measure(s, pg_cookie, samples, pages, changes, db_cpu)
            result["databases"][f"PostgreSQL, {rows:,} rows"] = summarise(raw)
        finally:
            pg.stop()
    return result


def section(r: dict[str, Any]) -> list[str]:
    """The report's section 4."""
    from report import table

    q = r["queries"]
    sqlite = r["databases"]["SQLite"]
    return [
        "## 4. Refresh cost",
        "",
        "A changelist of 100 rows a page on daphne with Redis, over loopback: the page load, its"
        " whole-list refresh (`X-Live-Admin-Refresh`: the form, search bar and filters, with the"
        " admin's counts) and its row refresh of one changed row (`X-Live-Admin-Rows`: those"
        f" rows only, no counts), interleaved; ms, medians of {REPEATS} repetitions (min to max"
        " across them). Row / page is taken repetition by repetition. *Server* is the time in"
        " Django (a `Server-Timing` middleware of the bench project, outermost), the target's"
        " measure; *request* is the whole request as the client saw it, daphne's HTTP handling"
        " and loopback included.",
        "",
        table(
            [
                "database",
                "page load: server",
                "whole-list refresh: server",
                "row refresh: server",
                "row / page: server",
                "≤ 0.2",
                "page load: request",
                "row refresh: request",
                "row / page: request",
            ],
            [
                [
                    name,
                    shown(d["page_server"]),
                    shown(d["refresh_server"]),
                    shown(d["rows_server"]),
                    shown(d["rows_to_page_server"]),
                    judged(d["rows_to_page_server"], TARGET_RATIO),
                    shown(d["page"]),
                    shown(d["rows"]),
                    shown(d["rows_to_page"]),
                ]
                for name, d in r["databases"].items()
            ],
        ),
        "",
        "Queries per request (SQLite, counted in the bench process), of them `COUNT`s:"
        f" page load {q['page']['all']} ({q['page']['count']}), whole-list refresh"
        f" {q['refresh']['all']} ({q['refresh']['count']}), row refresh {q['rows']['all']}"
        f" ({q['rows']['count']}).",
        "",
        f"Server CPU per change, {r['pages']} pages refreshing after it (ms; the refreshes'"
        " requests, not the save; on PostgreSQL the database server's CPU is counted too, since"
        " that is where the counts run):",
        "",
        table(
            ["database", "whole-list refreshes", "row refreshes", "row / whole", "≤ 0.2"],
            [
                [
                    name,
                    shown(d["cpu_refresh"]),
                    shown(d["cpu_rows"]),
                    shown(d["cpu_ratio"]),
                    judged(d["cpu_ratio"], TARGET_RATIO),
                ]
                for name, d in r["databases"].items()
            ],
        ),
        "",
        f"With SQLite, one change watched by {r['pages']} pages costs"
        f" {sqlite['cpu_rows']['median']} ms of server CPU as row refreshes, against"
        f" {sqlite['cpu_refresh']['median']} ms as whole-list refreshes.",
        "",
    ]
