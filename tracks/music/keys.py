"""Keys as musicians and DJs read them: a key's place on the Camelot wheel, and the key a song is in once
transposed."""

from __future__ import annotations

from ..ports.contract import PITCH_CLASSES

# The Camelot wheel DJs mix by: neighbours (±1, or A<->B at the same number) blend.
MAJORS = ("B", "F#", "C#", "G#", "D#", "A#", "F", "C", "G", "D", "A", "E")  # 1B to 12B
MINORS = ("G#", "D#", "A#", "F", "C", "G", "D", "A", "E", "B", "F#", "C#")  # 1A to 12A
CAMELOT = {
    **{f"{key} major": f"{n}B" for n, key in enumerate(MAJORS, 1)},
    **{f"{key} minor": f"{n}A" for n, key in enumerate(MINORS, 1)},
}


def camelot(key_label: str | None) -> str:
    """"A minor" -> "8A"; empty for no clear key."""
    return CAMELOT.get(key_label or "", "")


def camelot_rank(key_label: str | None) -> int:
    """Where a key comes going round the wheel (1A, 1B, 2A, ...), as DJs sort; 99 for no clear key (last)."""
    code = camelot(key_label)
    return int(code[:-1]) * 2 + (code[-1] == "B") if code else 99


def _moved(pitch_class: str, semitones: int) -> str:
    return PITCH_CLASSES[(PITCH_CLASSES.index(pitch_class) + semitones) % 12]


def transpose_chord(label: str, semitones: int) -> str:
    """A chord label moved by ``semitones``: "A:min" by -2 is "G:min"; no chord ("N") stays none."""
    root, sep, quality = label.partition(":")
    if root not in PITCH_CLASSES or not semitones:
        return label
    return _moved(root, semitones) + sep + quality


def transpose_key(key_label: str | None, semitones: int) -> str:
    """"A minor" by -2 is "G minor"; empty for a song without a clear key."""
    tonic, _, mode = (key_label or "").partition(" ")
    if tonic not in PITCH_CLASSES:
        return ""
    return f"{_moved(tonic, semitones)} {mode}"


def transpositions(key_label: str | None) -> str:
    """The key transposed by -12 to +12 semitones, comma-separated (the mixer shows "A minor -> G minor");
    empty for a song without a clear key."""
    if not transpose_key(key_label, 0):
        return ""
    return ",".join(transpose_key(key_label, shift) for shift in range(-12, 13))


# How two keys blend on the wheel, best first: the same key, its relative (the other letter), a step round.
RELATIONS = ("same key", "relative", "one step up", "one step down")
BPM_TOLERANCE = 0.06  # ±6 %: what a DJ's pitch fader covers without the song sounding wrong
LEVELS = ((1.0, ""), (2.0, "double time"), (0.5, "half time"))


def relation(code: str, other: str) -> str | None:
    """How key ``other`` mixes into ``code`` ("8A" into "8A" is the same key, "8B" relative, "9A" one step
    up, "7A" one step down), or None when it does not."""
    if not code or not other:
        return None
    number, letter = int(code[:-1]), code[-1]
    other_number, other_letter = int(other[:-1]), other[-1]
    if other == code:
        return RELATIONS[0]
    if other_number == number and other_letter != letter:
        return RELATIONS[1]
    if other_letter == letter and other_number == number % 12 + 1:
        return RELATIONS[2]
    if other_letter == letter and number == other_number % 12 + 1:
        return RELATIONS[3]
    return None


def tempo_fit(bpm: float | None, other: float | None) -> tuple[float, str] | None:
    """How far ``other`` is from ``bpm`` at its nearest metrical level (itself, doubled, halved), as a fraction, and the
    level's name; None beyond ±6 % at every level."""
    if not bpm or not other:
        return None
    found = min(((abs(other * factor - bpm) / bpm, name) for factor, name in LEVELS), key=lambda fit: fit[0])
    return found if found[0] <= BPM_TOLERANCE else None


def matches(bpm: float | None, key_label: str, others: list[tuple[object, float | None, str]]
            ) -> list[tuple[object, str, float, str]]:
    """Of ``others`` ((thing, bpm, key label)), those that mix well with a song at ``bpm`` in ``key_label``: a
    compatible key and a tempo within ±6 % (at some metrical level); best first (the key's closeness, then
    the tempo's). Each as (thing, how the keys blend, tempo difference as a fraction, the tempo level)."""
    code = camelot(key_label)
    found = []
    for thing, other_bpm, other_key in others:
        blend, fit = relation(code, camelot(other_key)), tempo_fit(bpm, other_bpm)
        if blend is not None and fit is not None:
            found.append((thing, blend, fit[0], fit[1]))
    return sorted(found, key=lambda m: (RELATIONS.index(m[1]), m[2]))


def compatible_labels(key_label: str) -> set[str]:
    """Every key label that mixes with this one (itself included): what a query may narrow by first."""
    code = camelot(key_label)
    return {label for label, other in CAMELOT.items() if relation(code, other) is not None}
