"""Writes the bench results as docs/benchmarks.md, docs/benchmarks.json and PNG plots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from figures import judged, shown, spread

TARGETS = {
    "save_added_p50_ms": 0.1,
    "save_vs_dcrf": 20.0,
    "save_added_busy_p50_ms": 0.15,
    "p99_200_ms": 100.0,
    "p99_1000_ms": 250.0,
    "refreshes": 3,
    "kb_per_socket": 48.0,
    "kb_per_socket_uvicorn": 40.0,
    "growth_pct": 5.0,
    "x_floor_1000": 3.0,
}
REPEATS_NOTE = "3 repetitions"
#: uvicorn's options as docs/deployment.md recommends them: permessage-deflate off (zlib's
#: contexts cost an idle socket about 40 KB, and content-free messages gain nothing from it).
UVICORN_RECOMMENDED = ["--ws-per-message-deflate", "false"]


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def plot(results: dict[str, Any], images: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    fig, ax = plt.subplots(figsize=(7, 4.2))
    series: dict[str, list[tuple[int, float]]] = {}
    for row in results["fan_out"]:
        label = f"{row['system']} · {row['server']} · {row['layer']}".replace(" · - ", "")
        series.setdefault(label, []).append((row["clients"], row["p99_ms"]))
    for label, points in series.items():
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, marker="o", label=label, linestyle="--" if "floor" in label else "-")
    ax.axhline(TARGETS["p99_200_ms"], color="grey", linewidth=0.8, linestyle=":")
    ax.axhline(TARGETS["p99_1000_ms"], color="grey", linewidth=0.8, linestyle=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("connected websocket clients (K)")
    ax.set_ylabel("p99 commit → receipt (ms)")
    ax.set_title("Fan-out latency, one server process")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(images / "bench-fan-out.png", dpi=110)
    names.append("bench-fan-out.png")
    plt.close(fig)

    mem = results["memory"]["levels"]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.plot(
        [0] + [m["sockets"] for m in mem],
        [0] + [m["kb_per_socket"] * m["sockets"] / 1024 for m in mem],
        marker="o",
        label="live_admin on daphne + Redis",
    )
    ax.plot(
        [0, mem[-1]["sockets"]],
        [0, TARGETS["kb_per_socket"] * mem[-1]["sockets"] / 1024],
        linestyle=":",
        color="grey",
        label="target: 48 KB per socket",
    )
    ax.set_xlabel("idle subscribed sockets")
    ax.set_ylabel("server RSS above baseline (MB)")
    ax.set_title("Memory per idle socket")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(images / "bench-memory.png", dpi=110)
    names.append("bench-memory.png")
    plt.close(fig)
    return names


def write_report(results: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    images = out / "images"
    images.mkdir(exist_ok=True)
    (out / "benchmarks.json").write_text(json.dumps(results, indent=2) + "\n")
    pngs = plot(results, images) if {"fan_out", "memory"} <= results.keys() else ["", ""]
    m = results["machine"]
    parts = [
        "# Benchmarks",
        "",
        "Written by `make bench` (bench/run.py); every figure below comes from one run, whose raw"
        " numbers are in [benchmarks.json](benchmarks.json). Machines here are shared and noisy:"
        " figures are medians over repeated samples, and comparisons are ratios taken in the same"
        " run.",
        "",
        f"Machine: {m['cores']} cores; Python {m['python']}, Django {m['django']}, channels"
        f" {m['channels']}, channels-redis {m['channels_redis']}, daphne {m['daphne']}, uvicorn"
        f" {m['uvicorn']}, websockets {m['websockets']}, djangochannelsrestframework"
        f" {m['djangochannelsrestframework']}, redis-server {m['redis_server']} on loopback."
        + (
            " Machine load (1, 5 and 15 minute averages) before the run"
            f" {', '.join(f'{x:.2f}' for x in m['load']['before'])}, after it"
            f" {', '.join(f'{x:.2f}' for x in m['load']['after'])}."
            if "load" in m
            else ""
        )
        + (
            " Sections run in two sittings (`--resume` after a failed section); the timed"
            f" sections took {results['took_s']} s."
            if results.get("resumed")
            else f" The run took {results['took_s']} s."
        )
        + (
            f" Section(s) {', '.join(results['only'])} re-run alone (`--only`), the others kept"
            " from an earlier run."
            if results.get("only") and results.keys() & {"saves", "fan_out", "memory"}
            else ""
        )
        + (" `--quick`: not figures to quote." if results["quick"] else ""),
        "",
    ]
    from capture import section as capture_section
    from catchup import section as catchup_section
    from collaboration import section as collaboration_section
    from reads_report import section as reads_section
    from refresh import section as refresh_section
    from scale import section as scale_section
    from streams import section as streams_section
    from tabs import section as tabs_section

    for name, render in (
        ("saves", saves_section),
        ("fan_out", lambda r: fan_out_section(r, pngs[0])),
        ("burst", burst_section),
        ("refresh", refresh_section),
        ("memory", lambda r: memory_section(r, pngs[1])),
        ("reads", reads_section),
        ("collaboration", collaboration_section),
        ("scale", scale_section),
        ("capture", capture_section),
        ("catchup", catchup_section),
        ("tabs", tabs_section),
        ("streams", streams_section),
    ):
        if name in results:  # a run with --only and no earlier benchmarks.json has gaps
            parts += render(results[name])
    findings = Path(__file__).with_name("findings.md")
    if findings.exists():  # what the figures mean: written by hand, kept with the bench
        parts += ["", findings.read_text().strip()]
    (out / "benchmarks.md").write_text("\n".join(parts) + "\n")


def saves_section(saves: dict[str, Any]) -> list[str]:
    rows = []
    for config, models in saves.items():
        if config == "parts":
            continue
        for model in ("plain", "live", "dcrf"):
            r = models[model]
            rows.append(
                [
                    config,
                    {"plain": "unobserved", "live": "live_admin", "dcrf": "DCRF"}[model],
                    r["p50_ms"],
                    r["p99_ms"],
                    r["added_p50_ms"],
                    r["added_p99_ms"],
                    r["batch_p50_ms"],
                    r["added_batch_ms"],
                    r["ratio"],
                    r.get("spaced_added_p50_ms", ""),
                    r.get("redis_connections_per_500", ""),
                ]
            )
    redis = saves["redis/sync"]
    runs = {key: spread(values) for key, values in redis.get("runs", {}).items()}
    if not runs:  # a run from before per-run figures: its pooled figures, as one
        one = {
            "live": redis["live"]["added_p50_ms"],
            "spaced_live": redis["live"]["spaced_added_p50_ms"],
        }
        one["dcrf_over_live"] = redis["dcrf"]["added_p50_ms"] / one["live"]
        one["spaced_dcrf_over_live"] = redis["dcrf"]["spaced_added_p50_ms"] / one["spaced_live"]
        runs = {key: spread([value]) for key, value in one.items()}
    count = len(redis.get("runs", {}).get("live", [None]))
    lines = [
        "## 1. Save overhead",
        "",
        "2,000 single-row saves (each its own transaction) and 20 transactions of 100 saves, of"
        " three models of one shape: unobserved, observed by live_admin, observed by"
        " djangochannelsrestframework's `model_observer`. `sync` is a writer process (like a"
        " management command or WSGI worker); `asgi` is a view inside daphne. Times per save, ms;"
        ' "added" is against the unobserved model in the same run, the three models taking'
        " turns in blocks of 50 saves. Connections: Redis's `total_connections_received` across"
        " 500 more saves of one model. SQLite runs with `synchronous=OFF`, so that the commit's"
        " disk flush does not drown what is measured.",
        "",
        table(
            [
                "layer/context",
                "model",
                "p50",
                "p99",
                "added p50",
                "added p99",
                "in a batch: p50",
                "added",
                "ratio p50",
                "added p50, 4 ms apart",
                "Redis connections per 500 saves",
            ],
            rows,
        ),
        "",
        f"Targets, with Redis from a writer process; each figure the median of {count} runs"
        " (min to max across them), a verdict only when the whole spread is on one side:",
        f"- ≤ 0.1 ms added p50 per single-row save, back to back: {shown(runs['live'])} ms —"
        f" {judged(runs['live'], TARGETS['save_added_p50_ms'])}.",
        "- The same, saves 4 ms apart (as a web worker saves, one per request):"
        f" {shown(runs['spaced_live'])} ms —"
        f" {judged(runs['spaced_live'], TARGETS['save_added_p50_ms'])}.",
        f"- ≥ {TARGETS['save_vs_dcrf']:g}x less added time than DCRF, run by run:"
        f" {shown(runs['dcrf_over_live'])}x back to back —"
        f" {judged(runs['dcrf_over_live'], TARGETS['save_vs_dcrf'], at_most=False)};"
        f" {shown(runs['spaced_dcrf_over_live'])}x 4 ms apart —"
        f" {judged(runs['spaced_dcrf_over_live'], TARGETS['save_vs_dcrf'], at_most=False)}.",
        f"- Redis connections opened by 500 saves from a writer process: live_admin"
        f" {redis['live']['redis_connections_per_500']}, DCRF"
        f" {redis['dcrf']['redis_connections_per_500']} (target: none per save).",
        "",
    ]
    return lines + busy_lines(saves)


def busy_lines(saves: dict[str, Any]) -> list[str]:
    """The targets with every core busy, and the save path's cost stage by stage."""
    busy = saves.get("redis/sync/busy")
    if not busy:
        return []
    runs = {key: spread(values) for key, values in busy["runs"].items()}
    lines = [
        "`redis/sync/busy` is the same writer with a busy loop in a process of its own on every"
        " core, started and stopped by the bench (a browser, a build or another worker on the"
        " machine). With every core busy:",
        f"- ≤ {TARGETS['save_added_busy_p50_ms']:g} ms added p50 back to back:"
        f" {shown(runs['live'])} ms — {judged(runs['live'], TARGETS['save_added_busy_p50_ms'])}.",
        f"- ≥ {TARGETS['save_vs_dcrf']:g}x less added time than DCRF, run by run:"
        f" {shown(runs['dcrf_over_live'])}x —"
        f" {judged(runs['dcrf_over_live'], TARGETS['save_vs_dcrf'], at_most=False)}.",
        "",
    ]
    parts = saves.get("parts", {})
    if not parts:
        return lines
    stages = {
        "observer": "observers and the transaction's changes, nothing handed over",
        "hand-off": "+ queued for the sender and the badge recorder, whose threads wake",
        "badges": "+ the badge recorder stores the change",
        "sent": "+ the sender sends it (the whole path)",
    }
    rows = [
        [stage, what, *(shown(spread(parts[c][stage], 4)) for c in parts)]
        for stage, what in stages.items()
    ]
    return [
        *lines,
        "What a save pays for, stage by stage: live_admin's path turned on up to each stage in"
        " turn, added p50 (ms) over the unobserved model, back to back with Redis, the stages"
        " taking turns in blocks of 50 saves; the median of the runs (min to max). A stage's"
        " cost is its row less the row above; the sender's and recorder's work costs the"
        " saving thread only the time they hold the GIL it wants.",
        "",
        table(["stage", "what runs", *parts], rows),
        "",
    ]


def fan_out_section(fan: list[dict[str, Any]], png: str) -> list[str]:
    floor = {r["clients"]: r for r in fan if r["system"] == "floor"}

    def x_floor(r: dict[str, Any]) -> dict[str, float] | None:
        """p99 over the floor's at the same K, repetition by repetition."""
        base = floor.get(r["clients"])
        if not base or not base["p99_ms"]:
            return None
        ours, theirs = r.get("p99_reps", [r["p99_ms"]]), base.get("p99_reps", [base["p99_ms"]])
        return spread([a / b for a, b in zip(ours, theirs, strict=False) if b], 1)

    rows = []
    for r in fan:
        ratio_spread = x_floor(r)
        ratio = shown(ratio_spread) if ratio_spread and len(r.get("p99_reps", [])) > 1 else ""
        if ratio_spread and not ratio:
            ratio = ratio_spread["median"]
        rows.append(
            [
                r["system"],
                r["server"],
                r["layer"],
                r["clients"],
                r["p50_ms"],
                r["p99_ms"],
                r["max_ms"],
                r["lost"],
                ratio,
            ]
        )
    checks = []
    for r in fan:
        if r["system"] != "live_admin":
            continue
        p99 = spread(r.get("p99_reps", [r["p99_ms"]]), 1)
        for k, target in ((200, TARGETS["p99_200_ms"]), (1000, TARGETS["p99_1000_ms"])):
            if r["clients"] == k:
                checks.append(
                    f"{r['server']}/{r['layer']} at {k:,}: {shown(p99)} ms ({judged(p99, target)})"
                )
    at_1000 = [
        f"{r['server']}/{r['layer']} {shown(x)}x — {judged(x, TARGETS['x_floor_1000'])}"
        for r in fan
        if r["system"] == "live_admin" and r["clients"] == 1000 and (x := x_floor(r))
    ]
    lost = sum(r["lost"] for r in fan)
    with_sockets = [r for r in fan if "save_p50_ms_with_sockets" in r]
    return [
        "## 2. Fan-out latency",
        "",
        "K websocket clients (the `websockets` library, in the bench process) connected to one"
        " server process, each subscribed to one model; one save per round, 20 rounds per K in"
        " 3 repetitions (p50 and p99: the repetitions' medians);"
        " time from the save's commit to its receipt at every client. On the in-memory layer the"
        " save is made in the server process (a view), on Redis by a separate writer process."
        " The floor is a bare `websockets` server broadcasting one frame to the same clients;"
        ' "x floor" is the p99 ratio to it at the same K.',
        "",
        table(
            ["system", "server", "layer", "K", "p50 ms", "p99 ms", "max ms", "lost", "x floor"],
            rows,
        ),
        "",
        f"![fan-out p99 against K]({'images/' + png})",
        "",
        "- Targets p99 ≤ 100 ms at 200 sockets, ≤ 250 ms at 1,000: " + "; ".join(checks) + ".",
        "- Target p99 ≤ 3x the floor at 1,000 sockets, on every server and layer (the ratio"
        f" repetition by repetition, median and spread of {REPEATS_NOTE}): "
        + "; ".join(at_1000)
        + ".",
        f"- Lost messages over every round: {lost} (target 0) — {verdict(lost == 0)}.",
        *[
            f"- A save inside {r['server']} (in-memory layer) with {r['clients']} sockets"
            f" connected: p50 {r['save_p50_ms_with_sockets']} ms, against"
            f" {r['save_p50_ms_no_sockets']} ms with none (the save only queues; fan-out runs"
            " after it returns)."
            for r in with_sockets
        ],
        "",
    ]


def burst_section(b: dict[str, Any]) -> list[str]:
    refreshes = b["refreshes_per_page"]
    if not isinstance(refreshes, dict):  # a run from before repetitions
        refreshes = spread([refreshes], 1)
    return [
        "## 3. Burst coalescing",
        "",
        f"{b['saves']} saves of one model within {b['saves_took_s']} s (median) from a writer"
        " process, 10"
        " sockets on daphne + Redis. Each save is its own transaction, so each is a message:"
        f" {b['messages_per_socket']} messages per socket (median). The arrival times seen by one"
        " socket are replayed through the page script's own debouncer (bench/burst.js, the"
        f" default 300 ms, at most 1.2 s): **{shown(refreshes)} refresh(es) per page** (median"
        " of 3 bursts, min to max) —"
        f" target ≤ 3, {judged(refreshes, TARGETS['refreshes'])}. Saves made in"
        " one transaction, or under `live_admin.batch()`, are one message to begin with.",
        "",
    ]


def _kb(figure: dict[str, Any]) -> dict[str, float]:
    """A level's KB per socket with its spread (a run from before repetitions has one)."""
    return figure.get("kb") or spread([figure["kb_per_socket"]], 1)


def _fan(fan: dict[str, Any]) -> str:
    p99 = fan.get("p99") or spread([fan["p99_ms"]])
    return f"p50 {fan['p50_ms']} ms, p99 {shown(p99)} ms, lost {fan['lost']}"


def memory_section(mem: dict[str, Any], png: str) -> list[str]:
    rows = [[lv["sockets"], lv["rss_kb"], shown(_kb(lv))] for lv in mem["levels"]]
    worst = mem.get("worst_kb") or max((_kb(lv) for lv in mem["levels"]), key=lambda k: k["max"])
    fan = mem["fan_out_all"]
    return [
        "## 5. Memory and scale",
        "",
        "Idle sockets, each subscribed to one model, on one daphne process with Redis; RSS of"
        " the server above its warmed-up baseline. Every RSS is read after a garbage collection"
        " and glibc's `malloc_trim(0)` in the server, so memory freed but kept by the allocator"
        " is not counted as used. Each run is on a fresh server process, repeated 3 times:"
        " the median with its spread (min to max); the RSS column is the median.",
        "",
        table(["sockets", "server RSS KB", "KB per socket"], rows),
        "",
        f"![server memory against sockets](images/{png})",
        "",
        f"- Target ≤ 48 KB per idle socket: worst level {shown(worst)} KB —"
        f" {judged(worst, TARGETS['kb_per_socket'])}.",
        f"- Fan-out to all {fan['clients']:,} sockets at once (3 changes a run): {_fan(fan)}.",
        *_big(mem),
        *_cycles(mem),
        "",
    ]


def _big(mem: dict[str, Any]) -> list[str]:
    big = mem.get("big")
    if big is None:
        return []
    connected = big["connected_s"]
    connected = connected if isinstance(connected, dict) else spread([connected], 1)
    lines = [
        f"- One uvicorn process (Redis) holding {big['sockets']:,} idle sockets, connected in"
        f" {shown(connected)} s: {shown(_kb(big))} KB per socket (RSS {big['rss_kb']} KB) —"
        f" {judged(_kb(big), TARGETS['kb_per_socket_uvicorn'])} against ≤"
        f" {TARGETS['kb_per_socket_uvicorn']:g} KB; one change to all of them (3 a run):"
        f" {_fan(big['fan_out'])}."
    ]
    options = mem.get("uvicorn_options")
    if options:
        lines.append(
            f"- uvicorn runs here as docs/deployment.md recommends,"
            f" `{' '.join(UVICORN_RECOMMENDED)}`. With its own defaults an idle socket holds"
            f" {shown(options['stock'])} KB, and {shown(options['recommended'])} KB as"
            f" recommended, at {options['sockets']:,} sockets, side by side: permessage-deflate"
            " gives every socket zlib's compression contexts, for messages too short to gain."
        )
    return lines


def _cycles(mem: dict[str, Any]) -> list[str]:
    runs = mem.get("cycle_runs") or [mem]
    growth = mem["growth_pct"] if isinstance(mem["growth_pct"], dict) else None
    if growth is None:  # a run from before repeated cycles
        growth = spread([mem["growth_pct"]], 2)
    left = [
        f"{r['sockets_left']} sockets counted, {r['buffers_left']} layer receive buffers,"
        f" {r['group_members_left']} group members left in Redis"
        for r in runs
    ]
    each = ", ".join(f"{r['rss_before_cycles_kb']} → {r['rss_after_cycles_kb']} KB" for r in runs)
    first = mem.get("first_cycles")
    where = "each on a fresh daphne" if first is None else "one after another on one fresh daphne"
    warm = (
        ""
        if first is None
        else f" Before them, a first {mem['cycles']:,} cycles on the fresh process, not judged:"
        f" {first['rss_before_cycles_kb']} → {first['rss_after_cycles_kb']} KB"
        f" ({first['growth_pct']}%), the process growing its caches and allocator arenas."
    )
    low, high = growth["min"], growth["max"]  # judged on the size of the change, either way
    size = {"min": 0.0 if low <= 0 <= high else min(abs(low), abs(high)), "max": max(-low, high)}
    return [
        f"- {mem['cycles']:,} connect/subscribe/disconnect cycles, {len(runs)} run(s) {where}:"
        f" RSS growth {shown(growth)}% (each: {each}); target within 5%,"
        f" {judged(size, TARGETS['growth_pct'])}.{warm}"
        f" Afterwards: {'; '.join(sorted(set(left)))};"
        f" {sum(r['resyncs_in_cycles'] for r in runs)} of the cycles' sockets were told to"
        " `resync`."
    ]
