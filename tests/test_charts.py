"""The analysis pictures' geometry (tracks/music/charts.py)."""

from __future__ import annotations

import random
import re

from tracks.music import charts, loops


def painted(layers: list[dict], columns: int, rows: int) -> dict[tuple[int, int], list[float]]:
    """Which shades cover the middle of each cell, reading the paths back as the rectangles they draw."""
    cover: dict[tuple[int, int], list[float]] = {}
    cell_w = charts.WIDTH / columns
    for layer in layers:
        for x, y, w in re.findall(r"M([\d.]+) (\d+)h([\d.]+)v10h-\3z", layer["d"]):
            row = rows - 1 - int(y) // 10
            for c in range(columns):
                if float(x) <= (c + 0.5) * cell_w <= float(x) + float(w):
                    cover.setdefault((c, row), []).append(layer["o"])
        assert "".join(re.findall(r"M[\d.]+ \d+h[\d.]+v10h-[\d.]+z", layer["d"])) == layer["d"]
    return cover


def test_a_heatmap_paints_each_cell_once_in_its_shade() -> None:
    rng = random.Random(7)
    rows, columns = 12, 150
    # Runs of equal values along the rows (as in music: a pitch class held), noise, and silence.
    grid = [[0.0] * rows for _ in range(columns)]
    for p in range(rows):
        c = 0
        while c < columns:
            n, v = rng.randint(1, 12), rng.choice([0.0, 0.02, 0.3, 0.55, 1.0, rng.random()])
            for i in range(c, min(columns, c + n)):
                grid[i][p] = v
            c += n
    layers = charts.heat_layers(grid)
    cover = painted(layers, columns, rows)
    for c in range(columns):
        for p in range(rows):
            v = grid[c][p]
            if v > 0.05:
                assert cover.get((c, p)) == [round(v * charts.HEAT_LEVELS) / charts.HEAT_LEVELS], (c, p, v)
            else:
                assert (c, p) not in cover
    assert len({layer["o"] for layer in layers}) == len(layers) <= charts.HEAT_LEVELS
    cells = sum(v > 0.05 for column in grid for v in column)
    rects = sum(layer["d"].count("M") for layer in layers)
    assert rects < cells / 2  # held values are drawn as one rectangle a run


def test_an_empty_heatmap_draws_nothing() -> None:
    assert charts.heat_layers([]) == []
    assert charts.heat_layers([[0.0] * 12] * 5) == []


def test_an_outline_is_in_hundredths_of_the_peak_it_is_scaled_to() -> None:
    rng = random.Random(3)
    hi = [rng.uniform(0, 0.8) for _ in range(800)]
    lo = [-rng.uniform(0, 0.5) for _ in range(800)]
    hi[123] = 0.8
    top, bottom = charts.outline({"min": lo, "max": hi}, charts.peak_of({"min": lo, "max": hi}))
    assert len(top) == len(bottom) == 800 and top[123] == 100 == max(top)
    assert all(abs(t - h / 0.8 * 100) <= 0.5 and abs(b - v / 0.8 * 100) <= 0.5
               for t, h, b, v in zip(top, hi, bottom, lo, strict=True))
    assert charts.outline({"min": [], "max": []}, 1.0) == [[], []]


def test_the_timeline_carries_the_song_in_seconds_and_the_chart_s_bar_numbers() -> None:
    song = {**SONG, "duration": 18.0, "waveform": {"max": [0.5, 0.25], "min": [-0.5, -0.1]},
            "sections": [{**s, "key": "C", "mode": "major"} for s in SONG["sections"]]}
    line = charts.timeline(song)
    assert line["duration"] == 18.0 and line["peaks"] == [[100, 50], [-100, -20]]
    assert line["beats"] == SONG["beats"] and line["downbeats"] == SONG["downbeats"]
    assert charts.timeline({**song, "duration": 17.0})["beats"] == SONG["beats"][:-1]  # none past the end
    assert line["bars"] == [[bar["at"], bar["number"]] for bar in charts.progression(SONG)]  # the chart's numbers
    assert line["sections"] == [[0.0, 5.0, "Intro (A)", 0], [5.0, 17.0, "B", 1]]  # B: the next colour
    assert line["chords"][0] == [0.0, 1.0, "N.C.", -1] and line["chords"][4] == [6.0, 7.0, "G7", 7]
    assert charts.timeline({**song, "waveform": None}) is None


class Stem:
    def __init__(self, name: str, peak: float, notes: list) -> None:
        self.name, self.peaks, self.notes = name, {"max": [peak, peak / 2], "min": [-peak, 0.0]}, notes


def test_stem_lanes_share_one_scale_and_carry_their_notes() -> None:
    lanes = charts.lanes([Stem("drums", 0.8, []), Stem("bass", 0.2, [[0.1234, 0.5, 40.0, 90.0]])])
    assert [lane["name"] for lane in lanes] == ["drums", "bass"]
    assert lanes[0]["peaks"][0] == [100, 50] and lanes[1]["peaks"][0] == [25, 12]  # the quiet stem looks quiet
    assert lanes[1]["notes"] == [[0.123, 0.5, 40, 90]] and lanes[0]["notes"] == []
    assert charts.note_range([[0, 1, 40, 90], [1, 2, 47, 80]]) == {"count": 2, "low": "E2", "high": "B2"}
    assert charts.note_range([]) is None


def test_the_section_table_carries_each_sections_loudness_and_energy() -> None:
    """The text beside the pictures: a quiet verse and a loud chorus read as such, from the curves."""
    data = {
        "duration": 20.0,
        "sections": [{"start": 0.0, "end": 10.0, "label": "A", "name": "verse", "key": "C", "mode": "major"},
                     {"start": 10.0, "end": 20.0, "label": "B", "name": "chorus", "key": "A", "mode": "minor"}],
        # Short-term loudness once a second, each value the 3 s block around its point.
        "loudness": {"curve_hz": 1.0, "short_term": [-30.0] * 9 + [-12.0] * 9},
        "energy": {"curve_hz": 2.0, "curve": [0.05] * 20 + [0.5] * 20},
    }
    verse, chorus = charts.by_section(data)
    assert (verse["label"], verse["name"], verse["key"]) == ("A", "verse", "C major")
    assert verse["lufs"] == -30.0 and chorus["lufs"] == -12.0
    assert chorus["energy_db"] == 0.0 and verse["energy_db"] == -20.0
    assert charts.by_section({"sections": data["sections"]})[0]["lufs"] is None  # no curve: no figure


def test_small_charts_say_their_values_strongest_first() -> None:
    assert charts.described([("C", 0.2), ("A", 0.9), ("E", -0.5)]) == "A 0.90, E -0.50, C 0.20"


# Eight bars of 4/4 at 120 BPM (a bar is 2 s), an upbeat bar before the first downbeat at 1 s, an intro of
# two bars and a verse; the chords change every bar, one bar holds two.
SONG = {
    "beats": [i * 0.5 for i in range(36)],
    "downbeats": [1.0 + 2 * i for i in range(8)],
    "chords": [[0.0, 1.0, "N"], [1.0, 3.0, "C:maj"], [3.0, 5.0, "A:min"], [5.0, 6.0, "F:maj"], [6.0, 7.0, "G:7"],
               [7.0, 11.0, "C:maj"], [11.0, 17.0, "D:min"]],
    "sections": [{"start": 0.0, "end": 5.0, "label": "A", "name": "intro"},
                 {"start": 5.0, "end": 17.0, "label": "B", "name": None}],
}


def test_the_chord_chart_puts_four_bars_a_row_under_each_section() -> None:
    chart = charts.chart(SONG)
    assert [(g["title"], g["bars"], g["at"]) for g in chart] == [("Intro (A)", 3, 0.0), ("B", 6, 5.0)]
    intro, verse = chart
    assert [[bar["number"] for bar in row] for row in intro["rows"]] == [[0, 1, 2]]  # the upbeat is bar 0
    assert [[bar["number"] for bar in row] for row in verse["rows"]] == [[3, 4, 5, 6], [7, 8]]
    assert [bar["chords"] for bar in intro["rows"][0]] == [["N"], ["C"], ["Am"]]
    assert verse["rows"][0][0]["chords"] == ["F", "G7"]  # two chords in one bar, in order
    assert charts.chart({"beats": [], "chords": []}) == []


def test_following_the_playhead_needs_chord_runs_bars_and_titled_sections() -> None:
    follow = charts.follow(SONG)
    assert follow["chords"][0] == [0.0, 1.0, "N.C."] and follow["chords"][4] == [6.0, 7.0, "G7"]
    assert follow["bars"][:3] == [[0.0, 0], [1.0, 1], [3.0, 2]]
    assert follow["sections"] == [[0.0, 5.0, "Intro (A)"], [5.0, 17.0, "B"]]
    assert charts.follow({"chords": []}) is None


def test_a_song_without_a_pickup_starts_on_bar_one_as_its_loops_do() -> None:
    """The silence before the first downbeat is no bar: the chart, the follow panel and the loops (bar 1 is
    the first downbeat's) count alike."""
    song = {**SONG, "beats": [b for b in SONG["beats"] if b >= 0.98]}
    assert [bar["number"] for bar in charts.progression(song)][:2] == [1, 2]
    assert charts.follow(song)["bars"][0] == [1.0, 1]
    assert loops.bars(song, 17.0, 1, 1).start == 1.0
    assert [bar["number"] for bar in charts.progression(SONG)][:2] == [0, 1]  # two beats before it: a pickup
