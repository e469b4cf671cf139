"""The music itself, apart from the app: tempo levels, cue points, loops and bars, the chart geometry, the
mix's pan law, MIDI files, tags, keys and how times read. Plain functions over an analysis's data and
numbers; nothing here imports Django or the app (tests/test_layers.py holds it to that)."""
