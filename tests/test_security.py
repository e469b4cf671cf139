"""Headers every page carries, and templates that keep to the CSP (no inline script, no inline handlers, no
<style> without the response's nonce)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_pages_carry_a_strict_csp_and_the_usual_headers(alice_client: Client) -> None:
    for response in (alice_client.get("/"), Client().get("/login/")):
        csp = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
        assert csp["script-src"] == "'self'"  # no inline script, no eval
        assert csp["style-src"].startswith("'self'") and "unsafe-inline" not in csp["style-src"]
        assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"


def test_templates_have_no_inline_scripts_or_handlers() -> None:
    offenders = []
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text()
        pattern = r"<script(?![^>]*\bsrc=)[^>]*>|<style(?![^>]*\bnonce=)[^>]*>|\s(on[a-z]+|hx-on[:\w-]*)="
        for match in re.finditer(pattern, text):
            offenders.append(f"{path.relative_to(ROOT)}: {match.group(0).strip()}")
    assert not offenders, offenders
