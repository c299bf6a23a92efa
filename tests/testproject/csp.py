"""Test project only: a strict Content-Security-Policy on every response (LIVE_ADMIN_TEST_CSP=1)."""


def strict_csp(get_response):
    def middleware(request):
        response = get_response(request)
        response["Content-Security-Policy"] = "default-src 'self'"
        return response

    return middleware
