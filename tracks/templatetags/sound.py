"""Template filters: ``clock`` (3:07) for positions, ``duration_s`` (about 2 min) for estimates, and
``person`` for how a user is shown to others, ``camelot`` for a key's place on the DJs' wheel,
``transpositions`` for the key a song is in once transposed."""

from __future__ import annotations

from django import template

from ..models import display_name
from ..ports.contract import PITCH_CLASSES

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
def transpositions(key_label: str | None) -> str:
    """The key transposed by -12 to +12 semitones, comma-separated (the mixer shows "A minor -> G minor");
    empty for a song without a clear key."""
    tonic, _, mode = (key_label or "").partition(" ")
    if tonic not in PITCH_CLASSES:
        return ""
    at = PITCH_CLASSES.index(tonic)
    return ",".join(f"{PITCH_CLASSES[(at + shift) % 12]} {mode}" for shift in range(-12, 13))


@register.filter
def render_label(options: dict) -> str:
    """What a rendered mix is: "80 %, -2 semitones, 0:12-0:24" (a true minus and dash), "as recorded" when
    nothing changed."""
    parts = []
    if options.get("rate", 1) != 1:
        parts.append(f"{round(options['rate'] * 100)} %")
    if options.get("semitones"):
        parts.append(f"{options['semitones']:+d} semitones".replace("-", "\u2212"))
    if options.get("start") or options.get("end") is not None:
        end = clock(options["end"]) if options.get("end") is not None else "end"
        parts.append(f"{clock(options.get('start'))}\u2013{end}")
    return ", ".join(parts) or "as recorded"


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
