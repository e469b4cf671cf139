"""The files: the storage layout (storage.py, the one place that names ``tracks/<uuid>/...``), uploads as they
arrive, and serving them back: originals, stems, zips, mixes, tagged copies and the exports (downloads.py,
rekordbox.py)."""
