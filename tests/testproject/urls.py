import asyncio
import os

from django.conf import settings
from django.contrib import admin
from django.http import HttpResponse, JsonResponse
from django.urls import include, path

from testapp.admin import other_site


async def server_state(request):
    """Test project only: what the load tests watch in the server process."""
    from live_admin.realtime.consumer import sockets_per_user as _sockets_per_user

    with open("/proc/self/status") as status:  # noqa: ASYNC230 (procfs: never blocks)
        rss_kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return JsonResponse(
        {
            "tasks": len(asyncio.all_tasks()),
            "rss_kb": rss_kb,
            "sockets": sum(_sockets_per_user.values()),
            "pid": os.getpid(),
        }
    )


def workload(request):
    """Test project only: run the seeded workload in the server process (in-memory layer)."""
    from testapp import workload

    keep = {int(pk) for pk in request.GET.getlist("keep")}
    done = workload.run(int(request.GET["seed"]), int(request.GET["steps"]), keep)
    return JsonResponse({"done": done})


urlpatterns = [
    path("__workload__/", workload),
    path("__state__/", server_state),
    path("favicon.ico", lambda request: HttpResponse(status=204)),
    path("admin/", admin.site.urls),
    path("other-admin/", other_site.urls),
]
if settings.THEME == "grappelli":  # its pages look up related objects through its own views
    urlpatterns.append(path("grappelli/", include("grappelli.urls")))
