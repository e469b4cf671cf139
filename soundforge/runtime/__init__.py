"""Where SoundForge overrides the internals of the frameworks it runs on (Django's ASGI handler, daphne and
Twisted, Channels' consumer and channel-layer delivery): each override is listed in PATCHES.md with the
internals it touches, the versions it is pinned to, the figure that justifies it and the test that pins it.
Two more live in tracks/consumers.py (the consumer's ``__call__`` and ``dispatch``), listed there too."""
