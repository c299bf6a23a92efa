from django.contrib import admin
from django.http import HttpResponse
from django.urls import path

from testapp.admin import other_site

urlpatterns = [
    path("favicon.ico", lambda request: HttpResponse(status=204)),
    path("admin/", admin.site.urls),
    path("other-admin/", other_site.urls),
]
