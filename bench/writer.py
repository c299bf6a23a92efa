"""A writer process for the bench: saves on command, one line in, one JSON line out.

Commands: ``save MODEL`` (one save; answers its commit's monotonic time); ``saves MODEL,...
SINGLES BATCHES SIZE [PAUSE]`` (timed saves, the models taking turns); ``updates MODEL,...
COUNT`` (timed one-row ``update()``s, the models taking turns); ``parts SINGLES``
(live_admin's save path stage by stage); ``burst COUNT SECONDS`` (COUNT saves of Item spread
evenly); ``flush`` (wait until live_admin's sender has sent everything).
"""

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchproject.settings")

import django

django.setup()

from django.db import transaction  # noqa: E402

import benchapp.consumers  # noqa: E402, F401  (connects DCRF's observer, as a server would)
from benchapp.models import Item  # noqa: E402
from benchapp.views import MODELS, timed_saves  # noqa: E402
from live_admin.capture import record  # noqa: E402
from live_admin.delivery.badges import recorder  # noqa: E402
from live_admin.delivery.sender import sender  # noqa: E402

BLOCK = 50


def _stage(name: str) -> Callable[[], None]:
    """Turn live_admin's save path on up to stage ``name``; returns what turns it back."""
    undo: list[Callable[[], None]] = []
    if name == "observer":  # observers and the transaction's changes; nothing handed over
        record.submit = lambda changes: None
        undo.append(lambda: setattr(record, "submit", submit))
    if name in ("hand-off", "badges"):  # the sender's thread wakes but sends nothing
        sender._work = lambda batch: None
        undo.append(lambda: delattr(sender, "_work"))
    if name == "hand-off":  # nor does the badge recorder's store anything
        recorder._work = lambda batch: None
        undo.append(lambda: delattr(recorder, "_work"))
    return lambda: [step() for step in undo] and None


submit = record.submit
STAGES = ("observer", "hand-off", "badges", "sent")


def parts(singles: int) -> dict[str, float]:
    """Added p50 (ms) over the unobserved model of live_admin's save with its path on up to
    each stage; the stages and the unobserved model take turns in blocks."""
    times: dict[str, list[float]] = {name: [] for name in ("plain", *STAGES)}
    for start in range(0, singles, BLOCK):
        for name in times:
            model = MODELS["plain" if name == "plain" else "live"]
            restore = _stage(name)
            try:
                for i in range(start, min(start + BLOCK, singles)):
                    began = time.perf_counter()
                    model.objects.create(name=f"p{i}", n=i)
                    times[name].append(time.perf_counter() - began)
                sender.flush(30)  # nothing of this stage's left for the next
                recorder.flush(30)
            finally:
                restore()
    base = statistics.median(times["plain"])
    return {name: round((statistics.median(times[name]) - base) * 1000, 4) for name in STAGES}


def timed_updates(names: list[str], count: int) -> dict[str, list[float]]:
    """Seconds per one-row ``update()`` of each model, the models taking turns in blocks."""
    from django.db.models import F

    out: dict[str, list[float]] = {name: [] for name in names}
    firsts = {name: MODELS[name].objects.create(name="updated").pk for name in names}
    for _ in range(0, count, BLOCK):
        for name in names:
            rows = MODELS[name].objects.filter(pk=firsts[name])
            for _ in range(BLOCK):
                began = time.perf_counter()
                rows.update(n=F("n") + 1)
                out[name].append(time.perf_counter() - began)
    return out


def main() -> None:
    for line in sys.stdin:
        command, *args = line.split()
        if command == "save":
            with transaction.atomic():
                MODELS[args[0]].objects.create(name="fan-out")
            out = {"committed": time.monotonic()}
        elif command == "saves":
            singles, batches, size = map(int, args[1:4])
            pause = float(args[4]) if len(args) > 4 else 0.0
            out = timed_saves(args[0].split(","), singles, batches, size, pause)
        elif command == "updates":  # one-row update()s, no signal: a trigger's whole work
            out = timed_updates(args[0].split(","), int(args[1]))
        elif command == "parts":
            out = parts(int(args[0]))
        elif command == "burst":
            count, seconds = int(args[0]), float(args[1])
            start = time.monotonic()
            for i in range(count):
                Item.objects.create(name=f"burst {i}")
                delay = start + seconds * (i + 1) / count - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            out = {"took": time.monotonic() - start}
        elif command == "flush":
            out = {"flushed": sender.flush(30), "stats": dict(sender.stats)}
        else:
            out = {"error": command}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
