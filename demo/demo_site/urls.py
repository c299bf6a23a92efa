from django.conf import settings
from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("favicon.ico", lambda request: HttpResponse(status=204)),
    path("", RedirectView.as_view(url="/admin/")),
    path("admin/", admin.site.urls),
]
if settings.DEMO_THEME == "grappelli":  # its pages look up related objects through its views
    urlpatterns.append(path("grappelli/", include("grappelli.urls")))
