"""The time Django spent on a request, as a ``Server-Timing`` header the bench reads."""

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


def server_timing(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable:
    def middleware(request: HttpRequest) -> HttpResponse:
        began = time.perf_counter()
        response = get_response(request)
        if hasattr(response, "render") and not response.is_rendered:
            response.render()  # a TemplateResponse renders after the middleware otherwise
        response["Server-Timing"] = f"django;dur={(time.perf_counter() - began) * 1000:.3f}"
        return response

    return middleware
