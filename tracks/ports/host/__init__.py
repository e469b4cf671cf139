"""The app's side of the ports: the one runner that starts a port as a subprocess (runner.py), the warm
analyzer that forks analyses from a process that has already imported librosa (warm.py), and the process-group
helpers both use (processes.py). No Django: the runner is used and tested on its own."""
