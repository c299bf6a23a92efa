"""The report's section 6 (bench/reads.py's figures) for docs/benchmarks.md."""

from __future__ import annotations

from typing import Any

from figures import shown
from report import table, verdict


def section(r: dict[str, Any]) -> list[str]:
    """The report's section 6."""
    labels = {
        "load": f"load {r['rows']:,} rows: `list(Model.objects.filter(pk__gt=…))`",
        "attributes": f"read every concrete field ({r['attributes']['fields']}) of every instance",
        "init": f"`Model(name=…, n=…)` x {r['rows']:,}",
        "attributes_hot": f"the same reads on one instance, x {r['rows']:,}",
    }
    rows = [
        [
            labels[key],
            r[key]["observed_ms"],
            r[key]["unobserved_ms"],
            r[key]["observed_us_each"],
            r[key]["unobserved_us_each"],
            f"{shown(r[key]['ratio_spread'])}x"
            if "ratio_spread" in r[key]
            else f"{r[key]['ratio']}x",
            f"≤ {r[key]['target']}x",
            r[key].get("verdict") or verdict(r[key]["met"]),
        ]
        for key in ("load", "attributes", "attributes_hot", "init")
        if key in r
    ]
    names = {
        "read_deferred": "read one deferred field",
        "refresh_two_deferred": "`refresh_from_db(fields=[two deferred fields])`",
        "assign_deferred": "assign to a deferred field",
    }
    queries = [
        [names[case], q["observed"], q["unobserved"], verdict(q["met"])]
        for case, q in r["queries"].items()
    ]
    saves = [
        [
            config,
            f["observed_first_ms"],
            f["unobserved_first_ms"],
            f["added_first_ms"],
            f["observed_second_ms"],
            f["unobserved_second_ms"],
            f["added_second_ms"],
            verdict(f["met"]),
        ]
        for config, f in r["first_save"].items()
    ]
    observer = r["observer"]
    return [
        "## 6. Read overhead",
        "",
        "What observing a model costs code that only reads it: `Item` (a `LiveAdminMixin`"
        " admin) against `Plain` (the same fields, a plain `ModelAdmin`), in the bench process,"
        f" on the same database, {r['rows']:,} fresh rows of each. Timed with `perf_counter`,"
        " the garbage collector off, the two models taking turns; the best of"
        f" {r['load']['repeats']} repeats ({r['attributes']['repeats']} for the reads: three"
        " passes over each of twice as many freshly loaded lists, loaded in turn, since the list"
        " loaded last is the one still in the CPU's caches). The attributes are read with one"
        " `operator.attrgetter` per model, so that little but the reads is timed. Field"
        f" descriptor: `{observer['descriptor']['observed']}` on the"
        f" observed model, `{observer['descriptor']['unobserved']}` on the other;"
        f" `from_db` {'overridden' if observer['from_db_overridden'] else 'not overridden'}.",
        "",
        table(
            [
                "",
                "observed ms",
                "unobserved ms",
                "observed µs each",
                "unobserved µs each",
                "ratio",
                "target",
                "",
            ],
            rows,
        ),
        "",
        *_kept(r),
        'Queries run on an instance loaded with `.only("id")` (the load itself not counted),'
        " captured with `CaptureQueriesContext`; target: as many for both models.",
        "",
        table(['after `.only("id")`', "observed", "unobserved", ""], queries),
        "",
        "The first save in a fresh process: bench/firstsave.py sets Django up with the bench"
        " settings and the Redis layer, queries each table once, then makes a new row and"
        " saves it (an INSERT: the process's first save) and saves it again (an UPDATE). One"
        " process per model per sample, the models taking turns; the median of"
        f" {r['processes']} processes each. `redis up` is the bench's own redis-server,"
        " `redis refused` a closed loopback port, `every core busy` the bench's redis-server"
        " with a busy loop in a process of its own on every core. ms; target ≤ 1 ms added to"
        " the first save.",
        "",
        table(
            [
                "Redis",
                "observed 1st",
                "unobserved 1st",
                "added 1st",
                "observed 2nd",
                "unobserved 2nd",
                "added 2nd",
                "",
            ],
            saves,
        ),
        "",
    ]


def _kept(r: dict[str, Any]) -> list[str]:
    """What a loaded instance weighs, and why reading many of them costs more."""
    kept = r.get("kept_bytes_per_row")
    if not kept:
        return []
    added = round(kept["observed"] - kept["unobserved"])
    return [
        f"A loaded instance holds {kept['observed']:.0f} bytes observed, {kept['unobserved']:.0f}"
        f" unobserved (tracemalloc, over the {r['rows']:,} rows): the {added} bytes more are the"
        " values it was loaded with, kept for change detection. The field descriptors are"
        " Django's own on both models, so reading one instance costs the same (the row above);"
        " a pass over many instances pays for one more small object a row, laid out by CPython's"
        " allocator among the row's own strings (see the findings below).",
        "",
    ]
