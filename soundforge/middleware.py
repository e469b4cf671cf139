"""Responses that are someone's are not kept by shared caches: every page and file the application answers
(static files are whitenoise's, answered before this runs, cached for a year) says ``Cache-Control:
private``, and a page also ``no-store``, so a browser's back button or a proxy never shows one person's
track, or a page from before their access ended, to another."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import patch_cache_control


def private_responses(get_response: Callable[[HttpRequest], HttpResponseBase]
                      ) -> Callable[[HttpRequest], HttpResponseBase]:
    def middleware(request: HttpRequest) -> HttpResponseBase:
        response = get_response(request)
        if response.get("Content-Type", "").startswith("text/html"):
            patch_cache_control(response, private=True, no_store=True)
        else:
            patch_cache_control(response, private=True)
        return response

    return middleware
