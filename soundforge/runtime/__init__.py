"""Where SoundForge overrides the internals of the frameworks it runs on (Django's ASGI handler, daphne and
Twisted, Channels' consumer and channel-layer delivery): each override is listed in PATCHES.md with the
internals it touches, the versions it is pinned to, the figure that justifies it and the test that pins it.
Imports nothing of tracks (tests/test_layers.py)."""
