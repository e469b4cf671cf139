from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from tracks.api.app import urls as api_urls

urlpatterns = [
    # The RQ dashboard (queues, workers, failed jobs): django-rq's views are staff-only.
    path("admin/rq/", include("django_rq.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", api_urls()),
    path("", include("tracks.urls")),
]
