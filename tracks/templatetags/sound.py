"""Template filters: ``clock`` (3:07) for positions, ``duration_s`` (about 2 min) for estimates,
``render_label`` for a rendered mix, ``person`` for how a user is shown to others, ``camelot`` for a key's
place on the DJs' wheel, ``transpositions`` for the key a song is in once transposed, ``percent_off`` for a
tempo's distance, ``marked`` for what a search found. The music is in tracks/music/ (keys.py, labels.py);
these only register it."""

from __future__ import annotations

from django import template

from .. import search
from ..models import display_name
from ..music import keys, labels

register = template.Library()
for function in (keys.camelot, keys.transpositions, labels.clock, labels.duration_s, labels.render_label,
                 labels.percent_off):
    register.filter(function.__name__, function)


@register.filter
def person(user: object) -> str:
    return display_name(user)


@register.filter
def marked(text: str, query: str) -> str:
    """The text with the words a search found in it marked (search.marks)."""
    return search.marks(text, query or "")
