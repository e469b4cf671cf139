"""What the port programs share: reading and writing audio in pieces (audio_stream.py), the beat network
(beats.py), chords, keys and sections (harmony.py), the separation engines and their models (dsp_engine.py,
demucs_models.py, demucs_stream.py) and numba's compile cache (jit_cache.py). Imports no Django."""
