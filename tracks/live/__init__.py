"""The live layer: what is pushed, to whom. The panels and the facts they show (panels.py), the events that
render a changed panel for every socket allowed to see it (events.py), the websocket consumers and their
routes, and who is on a page (presence.py)."""
