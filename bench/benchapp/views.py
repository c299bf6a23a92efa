"""Endpoints the bench drives inside the ASGI server: saves made there, timed there."""

import ctypes
import gc
import os
import resource
import time

from django.db import transaction
from django.http import HttpRequest, JsonResponse

from .models import DcrfItem, Item, Plain

MODELS = {"plain": Plain, "live": Item, "dcrf": DcrfItem}


def timed_saves(
    names: list[str],
    singles: int,
    batches: int,
    batch_size: int,
    pause: float = 0.0,
    block: int = 50,
) -> dict[str, dict[str, list[float]]]:
    """Seconds per single-row save (each its own transaction) and per transaction of saves,
    for each model named; the models take turns in blocks, so drift hits them alike. ``pause``
    (untimed) follows each single save, as between two requests of a web worker."""
    out = {name: {"single": [], "batch": []} for name in names}
    for start in range(0, singles, block):
        for name in names:
            model, times = MODELS[name], out[name]["single"]
            for i in range(start, min(start + block, singles)):
                began = time.perf_counter()
                model.objects.create(name=f"s{i}", n=i)
                times.append(time.perf_counter() - began)
                if pause:
                    time.sleep(pause)
    for b in range(batches):
        for name in names:
            model, began = MODELS[name], time.perf_counter()
            with transaction.atomic():
                for i in range(batch_size):
                    model.objects.create(name=f"b{b}.{i}", n=i)
            out[name]["batch"].append(time.perf_counter() - began)
    return out


def saves(request: HttpRequest) -> JsonResponse:
    result = timed_saves(
        request.GET["models"].split(","),
        int(request.GET.get("singles", 2000)),
        int(request.GET.get("batches", 20)),
        int(request.GET.get("batch_size", 100)),
    )
    return JsonResponse(result)


def commit(request: HttpRequest) -> JsonResponse:
    """One save of ``model``: a new row, or (``?pk=``) a new name for that row; answers the
    monotonic time of its commit."""
    model = MODELS[request.GET.get("model", "live")]
    with transaction.atomic():
        if "pk" in request.GET:
            obj = model.objects.get(pk=request.GET["pk"])
            obj.name = f"renamed {time.monotonic()}"
            obj.save()
        else:
            model.objects.create(name="fan-out")
    return JsonResponse({"committed": time.monotonic()})


def state(request: HttpRequest) -> JsonResponse:
    """This process's memory, CPU time, tasks and what live_admin and its layer hold.

    With ``?trim=1`` the memory is counted after a garbage collection and glibc's
    ``malloc_trim``, so that memory freed but kept by the allocator does not count as used.
    """
    from benchapp.counting import received
    from live_admin.delivery.sender import get_layer
    from live_admin.realtime.consumer import sockets_per_user as _sockets_per_user

    if request.GET.get("trim"):
        gc.collect()
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open(f"/proc/{os.getpid()}/status") as status:
        fields = dict(line.split(":", 1) for line in status)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    layer = get_layer()
    return JsonResponse(
        {
            "rss_kb": int(fields["VmRSS"].split()[0]),
            "cpu_s": usage.ru_utime + usage.ru_stime,
            "sockets": sum(_sockets_per_user.values()),
            "buffers": len(
                getattr(layer, "receive_buffer", None) or getattr(layer, "channels", {})
            ),
            "groups": sum(len(m) for m in getattr(layer, "groups", {}).values()),
            "received": dict(received),
        }
    )


#: The heap as ``/bench/heap/?mark=1`` found it (PYTHONTRACEMALLOC set for the server).
_marked: list = []


def heap(request: HttpRequest) -> JsonResponse:
    """What the Python heap grew by since ``?mark=1``, by owner: the innermost installed package
    (or live_admin) on each allocation's traceback, else the standard library module that
    allocated. Needs the server started with PYTHONTRACEMALLOC (frames to walk)."""
    import tracemalloc

    if not tracemalloc.is_tracing():
        return JsonResponse({"error": "start the server with PYTHONTRACEMALLOC=25"}, status=400)
    gc.collect()
    snapshot = tracemalloc.take_snapshot()
    if request.GET.get("mark"):
        _marked[:] = [snapshot]
        return JsonResponse({"marked": True})
    owners: dict[str, int] = {}
    lines: dict[str, int] = {}  # live_admin's part, by the line that allocated
    for stat in snapshot.compare_to(_marked[0], "traceback"):
        owner, frame = _owner(stat.traceback)
        owners[owner] = owners.get(owner, 0) + stat.size_diff
        if owner == "live_admin":
            line = f"{frame.filename.rsplit('/live_admin/', 1)[1]}:{frame.lineno}"
            lines[line] = lines.get(line, 0) + stat.size_diff
    return JsonResponse({"bytes": owners, "live_admin": lines})


def _owner(traceback) -> tuple:
    """Who allocated, and the frame that says so."""
    frames = list(traceback)
    for frame in reversed(frames):  # the innermost frame first
        name = frame.filename
        if "/live_admin/" in name:
            return "live_admin", frame
        if "site-packages/" in name:
            return name.split("site-packages/", 1)[1].split("/", 1)[0], frame
    module = frames[-1].filename.rsplit("/lib/python3", 1)[-1].split("/", 1)[-1].split(".py")[0]
    return "python: " + module, frames[-1]
