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
