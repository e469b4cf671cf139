"""Beat-level music for the analyzer port: chords, meter and downbeats, sections, and keys over time.

Everything here works on a constant-Q magnitude spectrogram with three bins a semitone from C1 (the analyzer
computes it once when any of these is asked for) and the beat frames the tempo step found. Imports numpy and
librosa only.

Choices, each measured on the labelled chorale corpus and the real productions (bench/accuracy.py):
- Chords from the C3-B6 octaves' magnitude chroma (a CQT with three bins a semitone: one bin a semitone
  leaks into its neighbours and costs 4 points of the majmin score), averaged per beat, its floor taken off
  (drums spread over every class), matched against plain templates and smoothed with a Viterbi pass.
  Weighting the root in the templates cost 6 points, energy instead of magnitude 3. A seventh or diminished
  chord must fit better than a triad by QUALITY_PRIOR: without it a quarter of the real songs' beats read
  as sevenths or diminished chords (7 % diminished), with it 9 % and 0.6 %, and the chorales' score rose.
  A lone pitch class (a note by itself) is no chord.
- Then the chords are held for the bar where the harmony is steady (one chord for the bar when it fits the
  bar's beats within STEADY_FIT a beat of their own labels, else one a half bar): on the real songs a fifth
  fewer chord changes and half as many one-beat chords; the chorales, whose harmony moves every beat, keep
  moving (majmin 0.761 with the priors alone, 0.756 held, 0.753 before either).
- No-chord where there are no notes: the share of the energy on the semitone (of the three bins) is a
  third for drums and noise and 0.40 and up for notes. Real mixes often sit near a third throughout (the
  drums outweigh the notes), so a beat is no-chord only where it is both that low and clearly below the
  song's own median.
- Downbeats fall where the chords change: Western harmony changes on strong beats far more often than
  on weak ones. The meter (3 or 4 beats a bar) is the one whose best phase makes beat-to-beat harmonic
  change most regular. Loudness misleads here (a backbeat is louder than the downbeat), and so, for the
  bar's phase, does the beat network's downbeat activation (downbeat F 0.56 from the harmony alone on the
  real songs, 0.54 with the activation added, 0.43 from the activation alone; on the chorales 0.68, 0.11,
  0.11). Where the harmony cannot tell three from four, the activation can: meter right on 0.96 of the
  real songs (0.88 from the harmony alone), still all the chorales.
- Sections from a self-similarity matrix of beat-level chroma and timbre: boundaries at the peaks of a
  checkerboard novelty curve snapped to downbeats, labels by how well one section's beats line up with
  another's (repetition shows as a diagonal, not as a similar average); at most MAX_SECTIONS, none shorter
  than a twelfth of the song, and a part that repeats at once is one part.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..contract import PITCH_CLASSES

QUALITIES = {"maj": (0, 4, 7), "min": (0, 3, 7), "7": (0, 4, 7, 10), "dim": (0, 3, 6)}
NO_CHORD = "N"
CHORD_OCTAVES = (2, 6)  # C3 up to B6, counted from C1
BINS_PER_SEMITONE = 3
CHORD_TEMPERATURE = 0.02
CHORD_STAY = 0.3
SILENT_DB = -50.0
UNPITCHED = 0.34
UNPITCHED_BELOW = 0.02
STEADY_FIT = 0.05
# What a chord's fit must beat a triad's by: sevenths and diminished chords are rarer than triads, and a
# triad with one loud passing note fits them too.
QUALITY_PRIOR = {"maj": 0.0, "min": 0.0, "7": 0.04, "dim": 0.06}
# One pitch class alone (a lone note, a bass line by itself) is no chord: the second-strongest class under
# this share of the strongest.
LONE_NOTE = 0.3
METERS = (3, 4)
METER_ACCENT = 0.25
SECTION_KERNEL_BARS = 4
SECTION_MIN_BARS = 4
MAX_SECTIONS = 10
SAME_SECTION = 0.6
VARIED_SECTION = 0.35


def beat_frames_from_zero(beat_frames: np.ndarray) -> np.ndarray:
    """Segment starts: frame 0 (what comes before the first beat) and every beat."""
    frames = np.asarray(beat_frames, dtype=int)
    return frames if frames.size and frames[0] == 0 else np.concatenate([[0], frames]).astype(int)


def beat_sync(feature: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Mean of ``feature`` (..., frames) over each segment from one start to the next (the last to the end)."""
    import librosa

    return librosa.util.sync(feature, list(starts), aggregate=np.mean, pad=True)[..., : len(starts)]


def _unit(x: np.ndarray) -> np.ndarray:
    return x / (np.linalg.norm(x, axis=0, keepdims=True) + 1e-12)


def _z(v: np.ndarray) -> np.ndarray:
    return (v - v.mean()) / (v.std() + 1e-9)


def chord_templates() -> tuple[list[tuple[int, str]], np.ndarray]:
    names, rows = [], []
    for quality, intervals in QUALITIES.items():
        for root in range(12):
            t = np.zeros(12)
            t[[(root + i) % 12 for i in intervals]] = 1.0
            names.append((root, quality))
            rows.append(t / np.linalg.norm(t))
    return names, np.array(rows)


def chord_name(root: int, quality: str) -> str:
    return f"{PITCH_CLASSES[root]}:{quality}"


def beat_chroma(cqt: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-beat chroma for chords and harmonic change from a CQT of three bins a semitone starting at C1
    (the middle bin of each three on the note): magnitude, mid octaves, floor removed, unit length. Also
    each beat's pitchedness: the share of those octaves' energy in the bins on a semitone, a third for
    drums and noise (spread evenly over the three), 0.40 and up where notes sound."""
    lo, hi = CHORD_OCTAVES
    per_octave = 12 * BINS_PER_SEMITONE
    # Roll by one so that each semitone's three bins (a third of a semitone flat, on it, sharp) sit together.
    bands = np.roll(cqt, 1, axis=0)[per_octave * lo : per_octave * hi]
    thirds = bands.reshape(hi - lo, 12, BINS_PER_SEMITONE, cqt.shape[1]).sum(axis=0)
    per_beat = beat_sync(thirds.sum(axis=1), starts)
    by_third = beat_sync(thirds.sum(axis=0), starts)
    pitched = by_third[BINS_PER_SEMITONE // 2] / (by_third.sum(axis=0) + 1e-12)
    return _unit(per_beat - per_beat.min(axis=0, keepdims=True)), pitched


def _fits(chroma: np.ndarray) -> tuple[list[tuple[int, str]], np.ndarray]:
    """How well each chord template fits each beat's chroma (cosine), less its quality's prior."""
    names, templates = chord_templates()
    return names, templates @ chroma - np.array([QUALITY_PRIOR[quality] for _, quality in names])[:, None]


def chords(chroma: np.ndarray, loudness_db: np.ndarray, pitched: np.ndarray | None = None) -> list[str]:
    """One label per beat segment: the best template, smoothed so a label holds unless the music moves.
    Silent beats and beats with no notes in them (a drum break, by ``pitched``) are no-chord."""
    import librosa

    names, fit = _fits(chroma)
    prob = np.exp((fit - fit.max(axis=0)) / CHORD_TEMPERATURE)
    prob /= prob.sum(axis=0)
    path = librosa.sequence.viterbi(prob, librosa.sequence.transition_loop(len(names), CHORD_STAY))
    # No notes: as unpitched as noise, and clearly less pitched than the song mostly is (in much real music
    # the drums outweigh the notes throughout, and every beat is near noise's third).
    unpitched = np.zeros(len(path), bool) if pitched is None else (
        pitched < min(UNPITCHED, float(np.median(pitched)) - UNPITCHED_BELOW))
    ranked = np.sort(chroma, axis=0)
    unpitched |= ranked[-2] < LONE_NOTE * ranked[-1]
    return [NO_CHORD if db < SILENT_DB or drums else chord_name(*names[k])
            for k, db, drums in zip(path, loudness_db, unpitched, strict=True)]


def bar_chords(chroma: np.ndarray, labels: list[str], bar_starts: list[int]) -> list[str]:
    """The per-beat chords held for the bar (or half bar) where the harmony is steady: one chord for the
    bar when it fits the bar's beats nearly as well as their own labels (within STEADY_FIT a beat), else
    one a half bar, else the beats' own. A bar mostly without notes is no-chord throughout; a beat without
    notes inside a steady bar (a fill) takes the bar's chord. Harmony that moves every beat (a chorale)
    keeps moving."""
    names, fit = _fits(chroma)
    index = {chord_name(*n): k for k, n in enumerate(names)}
    out = list(labels)
    edges = sorted({0, *(b for b in bar_starts if 0 < b < len(labels)), len(labels)})
    for a, b in itertools.pairwise(edges):
        sounding = [i for i in range(a, b) if labels[i] != NO_CHORD]
        if len(sounding) * 2 < b - a:
            out[a:b] = [NO_CHORD] * (b - a)
            continue
        own = sum(fit[index[labels[i]], i] for i in sounding)
        whole = fit[:, sounding].sum(axis=1)
        if whole.max() >= own - STEADY_FIT * len(sounding):
            out[a:b] = [chord_name(*names[int(whole.argmax())])] * (b - a)
            continue
        middle = a + (b - a) // 2
        halves = [[i for i in sounding if i < middle], [i for i in sounding if i >= middle]]
        if b - a >= 4 and all(halves):
            best = [fit[:, h].sum(axis=1) for h in halves]
            if sum(x.max() for x in best) >= own - STEADY_FIT * len(sounding):
                out[a:middle] = [chord_name(*names[int(best[0].argmax())])] * (middle - a)
                out[middle:b] = [chord_name(*names[int(best[1].argmax())])] * (b - middle)
    return out


def meter_and_phase(chroma: np.ndarray, labels: list[str], accent: np.ndarray | None = None
                    ) -> tuple[int, int, float]:
    """Beats per bar, the index of the first downbeat among the beats, and how clear that was (0..1).

    ``chroma`` and ``labels`` are per beat (no lead-in segment); ``accent``, where the beat tracker gives
    one, is how much each beat sounds like a downbeat: it decides the meter where the harmony's evidence
    for three and for four differ by less than METER_ACCENT."""
    if len(labels) < 2 * max(METERS):
        return 4, 0, 0.0
    novelty = np.r_[0.0, 1.0 - (chroma[:, 1:] * chroma[:, :-1]).sum(axis=0)]
    change_z, novelty_z = downbeat_evidence(labels), _z(novelty)
    accent_z = np.zeros(len(labels)) if accent is None else _z(np.asarray(accent, dtype=float)[: len(labels)])
    if accent_z.size < len(labels):
        accent_z = np.r_[accent_z, np.zeros(len(labels) - accent_z.size)]

    def contrast(cue: np.ndarray, m: int) -> np.ndarray:
        return np.array([cue[p::m].mean() - cue.mean() for p in range(m)])

    by_meter = {m: float(np.max(contrast(novelty_z, m))) for m in METERS}
    if abs(by_meter[3] - by_meter[4]) < METER_ACCENT:
        by_meter = {m: by_meter[m] + float(np.max(contrast(accent_z, m))) for m in METERS}
    meter = max(METERS, key=by_meter.get)
    phases = contrast(change_z, meter)
    phase = int(np.argmax(phases))
    ranked = sorted(phases, reverse=True)
    clarity = float(np.clip((ranked[0] - ranked[1]) / 0.5, 0, 1) * np.clip(abs(by_meter[3] - by_meter[4]) / 0.2, 0, 1))
    return meter, phase, clarity


# The bar lines follow the evidence beat by beat, so a beat the tracker dropped or added shifts the bars
# once instead of flipping every bar after it: a hidden Markov model over the position in the bar (one step
# a beat) that jumps to another position with this probability a beat, observing how much each beat
# sounds like a downbeat.
BAR_JUMP = 1e-3


def bar_lines(evidence: np.ndarray, meter: int) -> np.ndarray:
    """The beats (indices) that start bars: the Viterbi path of the position in the bar, ``evidence`` (z
    scores, one a beat) counting for position one."""
    n = evidence.size
    if n == 0:
        return np.zeros(0, dtype=int)
    stay, jump = np.log(1 - BAR_JUMP), np.log(BAR_JUMP / max(meter - 1, 1))
    trans = np.full((meter, meter), jump)
    trans[np.arange(meter), (np.arange(meter) + 1) % meter] = stay
    score = np.zeros(meter)
    score[0] = evidence[0]
    back = np.zeros((n, meter), dtype=int)
    for t in range(1, n):
        cand = score[:, None] + trans
        back[t] = cand.argmax(axis=0)
        score = cand.max(axis=0)
        score[0] += evidence[t]
    path = np.zeros(n, dtype=int)
    path[-1] = int(score.argmax())
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return np.flatnonzero(path == 0)


def downbeat_evidence(labels: list[str]) -> np.ndarray:
    """How much each beat sounds like a downbeat: the chord changing on it (z scores). The network's downbeat
    share of its activation, added, cost the chorales most of their bar lines (downbeat F 0.69 to 0.29)."""
    if not labels:
        return np.zeros(0)
    change = np.r_[1.0, [a != b for a, b in zip(labels[1:], labels[:-1], strict=True)]].astype(float)
    return _z(change)


def _checkerboard(half: int) -> np.ndarray:
    idx = np.arange(-half, half) + 0.5
    sign = np.sign(idx)[:, None] * np.sign(idx)[None, :]
    taper = np.exp(-0.5 * (idx / (0.5 * half)) ** 2)
    return sign * taper[:, None] * taper[None, :]


def _novelty(similarity: np.ndarray, half: int) -> np.ndarray:
    n = similarity.shape[0]
    kernel = _checkerboard(half)
    padded = np.pad(similarity, half, mode="edge")
    return np.array([(padded[i : i + 2 * half, i : i + 2 * half] * kernel).sum() for i in range(n)])


def _repeat_score(sim: np.ndarray, a: tuple[int, int], b: tuple[int, int]) -> float:
    """How well section b replays section a bar for bar: the best mean along a diagonal of their block,
    allowing a bar's shift."""
    length = min(a[1] - a[0], b[1] - b[0])
    best = -1.0
    for shift in range(-1, 2):
        i0, j0 = a[0], b[0] + shift
        if j0 < 0 or j0 + length > sim.shape[0] or i0 + length > sim.shape[0]:
            continue
        best = max(best, float(np.mean(sim[np.arange(i0, i0 + length), np.arange(j0, j0 + length)])))
    return best


def sections(features: np.ndarray, downbeat_index: np.ndarray) -> list[tuple[int, int, str]]:
    """Sections as (first beat, end beat, label) with labels A, B, A' ...; ``features`` is (dims, beats).

    Works bar by bar (the beats inside a bar differ far more than two bars of the same section do): the
    features are averaged per bar, the novelty kernel spans four bars a side, and a section is at least
    four bars long."""
    n = features.shape[1]
    bar_starts = [int(i) for i in downbeat_index if 0 < i < n]
    if not bar_starts:
        bar_starts = list(range(4, n, 4))
    edges = [0, *bar_starts, n]
    bars = np.stack([features[:, a:b].mean(axis=1) for a, b in itertools.pairwise(edges)], axis=1)
    found = _bar_sections(bars)
    return [(edges[a], edges[b], label) for a, b, label in found]


def _bar_sections(bars: np.ndarray) -> list[tuple[int, int, str]]:
    n = bars.shape[1]
    if n < 2 * SECTION_MIN_BARS:
        return [(0, n, "A")]
    standard = (bars - bars.mean(axis=1, keepdims=True)) / (bars.std(axis=1, keepdims=True) + 1e-9)
    unit = _unit(standard)
    sim = unit.T @ unit
    novelty = _novelty(sim, SECTION_KERNEL_BARS)
    candidates = [i for i in range(1, n - 1) if novelty[i] >= novelty[i - 1] and novelty[i] > novelty[i + 1]]
    floor = novelty.mean() + 0.5 * novelty.std()
    # A long song's parts are longer: at most MAX_SECTIONS, none shorter than its share of a tenth.
    shortest = max(SECTION_MIN_BARS, n // (MAX_SECTIONS + 2))
    picked: list[int] = []
    for i in sorted(candidates, key=lambda i: -novelty[i]):
        if novelty[i] < floor or len(picked) == MAX_SECTIONS - 1:
            break
        if shortest <= i <= n - shortest and all(abs(i - j) >= shortest for j in picked):
            picked.append(i)
    spans = list(itertools.pairwise([0, *sorted(picked), n]))
    labels: list[str] = []
    letters: list[tuple[int, str]] = []  # (span index of its first appearance, letter)
    for k, span in enumerate(spans):
        scores = [(_repeat_score(sim, spans[j], span), letter) for j, letter in letters]
        best = max(scores, default=(-1.0, ""))
        if best[0] >= SAME_SECTION:
            labels.append(best[1])
        elif best[0] >= VARIED_SECTION:
            labels.append(best[1] + "'")
        else:
            letter = chr(ord("A") + len(letters)) if len(letters) < 26 else "Z"
            letters.append((k, letter))
            labels.append(letter)
    # A part played twice in a row is one part (a verse's two halves), not two.
    merged: list[list] = []
    for (a, b), label in zip(spans, labels, strict=True):
        if merged and merged[-1][2] == label:
            merged[-1][1] = b
        else:
            merged.append([a, b, label])
    return [(a, b, label) for a, b, label in merged]


def section_names(spans: list[tuple[float, float, str]], duration: float) -> list[str | None]:
    """Intro and outro where they are clear: a first or last section heard only once and short."""
    names: list[str | None] = [None] * len(spans)
    if len(spans) < 3:
        return names
    letters = [label.rstrip("'") for _, _, label in spans]
    for index, name in ((0, "intro"), (len(spans) - 1, "outro")):
        start, end, _ = spans[index]
        if letters.count(letters[index]) == 1 and end - start <= 0.2 * duration:
            names[index] = name
    return names

