"""Endpoints the bench drives inside the ASGI server: saves made there, timed there."""

import os
import resource
import time

from django.db import transaction
from django.http import HttpRequest, JsonResponse

from .models import DcrfItem, Item, Plain

MODELS = {"plain": Plain, "live": Item, "dcrf": DcrfItem}


def timed_saves(model: type, singles: int, batches: int, batch_size: int) -> dict[str, list[float]]:
    """Seconds per single-row save (each its own transaction), and per transaction of saves."""
    single, batch = [], []
    for i in range(singles):
        start = time.perf_counter()
        model.objects.create(name=f"s{i}", n=i)
        single.append(time.perf_counter() - start)
    for b in range(batches):
        start = time.perf_counter()
        with transaction.atomic():
            for i in range(batch_size):
                model.objects.create(name=f"b{b}.{i}", n=i)
        batch.append(time.perf_counter() - start)
    return {"single": single, "batch": batch}


def saves(request: HttpRequest) -> JsonResponse:
    model = MODELS[request.GET["model"]]
    result = timed_saves(
        model,
        int(request.GET.get("singles", 2000)),
        int(request.GET.get("batches", 20)),
        int(request.GET.get("batch_size", 100)),
    )
    return JsonResponse(result)


def commit(request: HttpRequest) -> JsonResponse:
    """One save of ``model``; answers the monotonic time of its commit."""
    model = MODELS[request.GET.get("model", "live")]
    with transaction.atomic():
        model.objects.create(name="fan-out")
    return JsonResponse({"committed": time.monotonic()})


def state(request: HttpRequest) -> JsonResponse:
    """This process's memory, CPU time, tasks and what live_admin and its layer hold."""
    from live_admin.consumers import _sockets_per_user
    from live_admin.sender import get_layer

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
        }
    )
