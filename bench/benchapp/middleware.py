"""The time Django spent on a request, as a ``Server-Timing`` header the bench reads.

Async as well as sync, so that Django does not have to adapt the chain around it (a sync-only
middleware outermost makes every request hop between threads, which would be measured too)."""

import time
from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse


def _stamp(response: HttpResponse, began: float) -> HttpResponse:
    if hasattr(response, "render") and not response.is_rendered:
        response.render()  # a TemplateResponse renders after the middleware otherwise
    response["Server-Timing"] = f"django;dur={(time.perf_counter() - began) * 1000:.3f}"
    return response


def server_timing(get_response: Callable[[HttpRequest], Any]) -> Callable:
    if iscoroutinefunction(get_response):

        async def middleware(request: HttpRequest) -> HttpResponse:
            began = time.perf_counter()
            return _stamp(await get_response(request), began)

        return markcoroutinefunction(middleware)

    def sync_middleware(request: HttpRequest) -> HttpResponse:
        began = time.perf_counter()
        return _stamp(get_response(request), began)

    return sync_middleware


server_timing.sync_capable = True  # type: ignore[attr-defined]
server_timing.async_capable = True  # type: ignore[attr-defined]
