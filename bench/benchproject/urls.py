from django.contrib import admin
from django.urls import path

from benchapp import views

urlpatterns = [
    path("bench/saves/", views.saves),
    path("bench/commit/", views.commit),
    path("bench/state/", views.state),
    path("bench/heap/", views.heap),
    path("admin/", admin.site.urls),
]
