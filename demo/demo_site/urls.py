from django.contrib import admin
from django.http import HttpResponse
from django.urls import path
from django.views.generic import RedirectView

urlpatterns = [
    path("favicon.ico", lambda request: HttpResponse(status=204)),
    path("", RedirectView.as_view(url="/admin/")),
    path("admin/", admin.site.urls),
]
