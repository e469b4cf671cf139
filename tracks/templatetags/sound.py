"""Template filters: ``clock`` (3:07) for positions, ``duration_s`` (about 2 min) for estimates, and
``person`` for how a user is shown to others, ``camelot`` for a key's place on the DJs' wheel."""

from __future__ import annotations

from django import template

from ..models import display_name

register = template.Library()


# The Camelot wheel DJs mix by: neighbours (±1, or A<->B at the same number) blend.
MAJORS = ("B", "F#", "C#", "G#", "D#", "A#", "F", "C", "G", "D", "A", "E")  # 1B to 12B
MINORS = ("G#", "D#", "A#", "F", "C", "G", "D", "A", "E", "B", "F#", "C#")  # 1A to 12A
CAMELOT = {
    **{f"{key} major": f"{n}B" for n, key in enumerate(MAJORS, 1)},
    **{f"{key} minor": f"{n}A" for n, key in enumerate(MINORS, 1)},
}


@register.filter
def camelot(key_label: str | None) -> str:
    return CAMELOT.get(key_label or "", "")


@register.filter
def person(user: object) -> str:
    return display_name(user)


@register.filter
def clock(seconds: float | None) -> str:
    total = max(0, round(seconds or 0))
    return f"{total // 60}:{total % 60:02d}"


@register.filter
def duration_s(seconds: float | None) -> str:
    total = max(0, round(seconds or 0))
    if total < 60:
        return f"{total} s"
    if total < 3600:
        return f"{total // 60} min {total % 60:02d} s"
    return f"{total // 3600} h {total % 3600 // 60:02d} min"
