"""The health check uptime monitors and load balancers ask: the database, Redis, the workers and the disk."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_safe

from .. import health


@login_not_required
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    healthy, report = health.check()
    return JsonResponse(report, status=200 if healthy else 503)
