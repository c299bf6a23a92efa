"""6. Read overhead: what observing a model costs code that only reads it, and a first save.

Item (a LiveAdminMixin admin) against Plain (the same fields, a plain ModelAdmin): in the bench
process, on the same database, the two taking turns; first saves in fresh processes
(bench/firstsave.py). ``python bench/run.py --only reads`` runs this section alone.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from contextlib import nullcontext
from operator import attrgetter
from pathlib import Path
from typing import Any

from busy import hogging
from figures import judged, spread

HERE = Path(__file__).resolve().parent
ROWS = 20_000
TARGETS = {"load": 1.10, "attributes": 1.05, "init": 1.2, "first_save_added_ms": 1.0}
SIDES = ("observed", "unobserved")


def _models() -> dict[str, Any]:
    from benchapp.models import Item, Plain

    return {"observed": Item, "unobserved": Plain}


def interleaved(calls: dict[str, Callable[[], Any]], repeats: int) -> dict[str, list[float]]:
    """Seconds per call of each, with gc off; the calls take turns (ABBA) so drift hits both.
    What a call returns is freed after its timing, not in it."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    for r in range(repeats):
        for name in list(calls) if r % 2 == 0 else list(calls)[::-1]:
            gc.collect()
            gc.disable()
            try:
                began = time.perf_counter()
                result = calls[name]()
                took = time.perf_counter() - began
            finally:
                gc.enable()
            times[name].append(took)
            del result
    return times


def ratio_row(times: dict[str, list[float]], target: float, per: int) -> dict[str, Any]:
    """Best of the repeats for each side, per item in µs, and observed / unobserved: the
    repeats taken as three repetitions in turn, the ratio of each repetition's bests, their
    median and spread, judged on the spread."""
    best = {side: min(times[side]) for side in SIDES}
    count = len(times["observed"])
    thirds = [slice(i * count // 3, (i + 1) * count // 3) for i in range(3)]
    ratios = [min(times["observed"][part]) / min(times["unobserved"][part]) for part in thirds]
    figure = spread(ratios)
    return {
        **{f"{side}_ms": round(best[side] * 1000, 3) for side in SIDES},
        **{f"{side}_us_each": round(best[side] / per * 1e6, 3) for side in SIDES},
        "ratio": figure["median"],
        "ratio_spread": figure,
        "target": target,
        "met": figure["max"] <= target,
        "verdict": judged(figure, target),
        "repeats": count,
    }


def timings(models: dict[str, Any], starts: dict[str, int], repeats: int) -> dict[str, Any]:
    def load(model: Any, start: int) -> Callable[[], list]:
        return lambda: list(model.objects.filter(pk__gt=start))

    out = {
        "load": ratio_row(
            interleaved({s: load(models[s], starts[s]) for s in SIDES}, repeats),
            TARGETS["load"],
            ROWS,
        )
    }
    getters = {s: attrgetter(*(f.attname for f in models[s]._meta.concrete_fields)) for s in SIDES}

    def read(objs: list, get: Callable[[Any], Any]) -> Callable[[], None]:
        return lambda: deque(map(get, objs), 0)

    # Fresh lists for each repeat, loaded in turn too: the list loaded last reads faster (its
    # objects are the ones still in the CPU's caches).
    reads: dict[str, list[float]] = {s: [] for s in SIDES}
    for r in range(repeats * 2):
        order = SIDES if r % 2 == 0 else SIDES[::-1]
        loaded = {s: load(models[s], starts[s])() for s in order}
        for s, times in interleaved({s: read(loaded[s], getters[s]) for s in order}, 3).items():
            reads[s] += times
        del loaded
    out["attributes"] = ratio_row(reads, TARGETS["attributes"], ROWS)
    out["attributes"]["fields"] = len(models["observed"]._meta.concrete_fields)
    # The same reads on one instance, ROWS times: the access path alone, without the caches'
    # share (what 20,000 instances weigh, and where they lie in memory).
    one = {s: models[s].objects.filter(pk__gt=starts[s]).first() for s in SIDES}
    hot = interleaved({s: read([one[s]] * ROWS, getters[s]) for s in SIDES}, repeats * 6)
    out["attributes_hot"] = ratio_row(hot, TARGETS["attributes"], ROWS)
    out["kept_bytes_per_row"] = kept_bytes(models, starts)

    def make(model: Any) -> Callable[[], list]:
        return lambda: [model(name="item", n=i) for i in range(ROWS)]

    made = interleaved({s: make(models[s]) for s in SIDES}, repeats)
    out["init"] = ratio_row(made, TARGETS["init"], ROWS)
    return out


def kept_bytes(models: dict[str, Any], starts: dict[str, int]) -> dict[str, float]:
    """Bytes a loaded instance holds, per side (tracemalloc, what the loaded list keeps)."""
    import tracemalloc

    out = {}
    for side in SIDES:
        gc.collect()
        tracemalloc.start()
        rows = list(models[side].objects.filter(pk__gt=starts[side]))
        size = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        out[side] = round(size / len(rows), 1)
        del rows
    return out


def query_counts(models: dict[str, Any], pks: dict[str, int]) -> dict[str, Any]:
    """Queries run by what follows ``.only("id")``, for each side (not counting the load)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    cases: dict[str, Callable[[Any], Any]] = {
        "read_deferred": lambda obj: obj.name,
        "refresh_two_deferred": lambda obj: obj.refresh_from_db(fields=["name", "n"]),
        "assign_deferred": lambda obj: setattr(obj, "name", "assigned"),
    }
    out: dict[str, Any] = {}
    for case, operation in cases.items():
        row: dict[str, Any] = {}
        for side in SIDES:
            obj = models[side].objects.only("id").get(pk=pks[side])
            with CaptureQueriesContext(connection) as captured:
                operation(obj)
            row[side] = len(captured.captured_queries)
        row["met"] = row["observed"] == row["unobserved"]
        out[case] = row
    return out


def first_saves(urls: dict[str, str], processes: int) -> dict[str, Any]:
    """Median over fresh processes of their first and second save, per side and Redis state."""
    out: dict[str, Any] = {}
    for config, url in [*urls.items(), ("redis up, every core busy", urls["redis up"])]:
        env = {**os.environ, "BENCH_LAYER": "redis", "BENCH_REDIS": url, "PYTHONPATH": str(HERE)}
        samples: dict[str, dict[str, list[float]]] = {s: {"first": [], "second": []} for s in SIDES}
        with hogging() if config.endswith("busy") else nullcontext():
            _first_saves(env, processes, samples)
        row = {
            f"{side}_{which}_ms": round(statistics.median(samples[side][which]) * 1000, 3)
            for side in SIDES
            for which in ("first", "second")
        }
        for which in ("first", "second"):
            row[f"added_{which}_ms"] = round(
                row[f"observed_{which}_ms"] - row[f"unobserved_{which}_ms"], 3
            )
        row["met"] = row["added_first_ms"] <= TARGETS["first_save_added_ms"]
        out[config] = row
        print(f"first save, {config}: {row}", flush=True)
    return out


def _first_saves(
    env: dict[str, str], processes: int, samples: dict[str, dict[str, list[float]]]
) -> None:
    """Fresh processes' first and second saves, the sides taking turns."""
    for p in range(processes):
        for side in SIDES if p % 2 == 0 else SIDES[::-1]:
            done = subprocess.run(
                [sys.executable, str(HERE / "firstsave.py"), _arg(side)],
                env=env,
                cwd=HERE,
                capture_output=True,
                text=True,
                timeout=120,
            )
            if done.returncode != 0:
                raise RuntimeError(f"firstsave.py {side} failed: {done.stderr}")
            times = json.loads(done.stdout.splitlines()[-1])
            for which in ("first", "second"):
                samples[side][which].append(times[which])


def _arg(side: str) -> str:
    return "live" if side == "observed" else "plain"


def read_overhead(redis_url: str, refused_url: str, quick: bool) -> dict[str, Any]:
    models = _models()
    starts = {
        s: models[s].objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        for s in SIDES
    }
    for side in SIDES:
        models[side].objects.bulk_create(models[side](name=f"read {i}", n=i) for i in range(ROWS))
    out: dict[str, Any] = timings(models, starts, repeats=3 if quick else 9)
    print(f"reads: {out}", flush=True)
    firsts = {s: models[s].objects.filter(pk__gt=starts[s]).order_by("pk")[0].pk for s in SIDES}
    out["queries"] = query_counts(models, firsts)
    print(f"reads, queries: {out['queries']}", flush=True)
    urls = {"redis up": redis_url, "redis refused": refused_url}
    out["processes"] = 2 if quick else 7
    out["first_save"] = first_saves(urls, out["processes"])
    out["rows"] = ROWS
    out["observer"] = {  # which observer ran: its descriptor and whether it hooks from_db
        "descriptor": {s: type(vars(models[s])["name"]).__name__ for s in SIDES},
        "from_db_overridden": models["observed"].from_db.__func__
        is not models["unobserved"].from_db.__func__,
    }
    return out
