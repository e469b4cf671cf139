"""Where Demucs weights come from, found without torch so every answer is quick: which models can load here
now (the models folder, demucs's download caches, or a download that can start), and fetching models into
a models folder with their checksums verified (ADR-002's protocol).

    python -m tracks.ports.demucs_repo fetch NAME... --models-dir DIR [--url URL]

Prints ``{"fetched": {name: [files]}, "models_dir": DIR}`` and exits 0, or the error object (``fetch_failed``,
``checksum_mismatch``, ``model_unavailable``) and a non-zero exit. Weights are ``<sig>-<sha8>.th`` files: the
first eight hex digits of the file's SHA-256 are in its name (as torch.hub checks them), and a file that does
not match is never kept. A bag's ``<name>.yaml`` comes from the demucs package (or ``URL``, for a repository of
one's own). Imports no Django and no torch.
"""

from __future__ import annotations

import glob
import hashlib
import importlib.util
import os
import socket
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from .contract import ErrorKind
from .port_protocol import Parser, PortFailure, progress, run

ROOT_URL = "https://dl.fbaipublicfiles.com/demucs/"  # demucs.pretrained.ROOT_URL
# Where demucs downloads from (the Hugging Face hub first, then its own repository); another list for tests
# or a mirror: host:port,host:port.
DOWNLOAD_HOSTS = os.environ.get("SOUNDFORGE_MODEL_HOSTS", "huggingface.co:443,dl.fbaipublicfiles.com:443")
REACH_TIMEOUT_S = 2.0
FETCH_TIMEOUT_S = 20.0
FETCH_CHUNK = 1 << 20


def remote_folder() -> str | None:
    """The demucs package's ``remote`` folder (its bag files and files.txt), found without importing it."""
    spec = importlib.util.find_spec("demucs")
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.join(next(iter(spec.submodule_search_locations)), "remote")


def signatures(name: str, folder: str) -> list[str]:
    """The model signatures ``name`` stands for in a demucs repo folder: its bag's list, or itself."""
    import yaml

    bag = os.path.join(folder, f"{name}.yaml")
    if not os.path.isfile(bag):
        return [name]
    try:
        with open(bag) as file:
            sigs = [str(sig) for sig in (yaml.safe_load(file) or {}).get("models", [])]
    except (OSError, yaml.YAMLError, AttributeError) as exc:
        raise PortFailure(ErrorKind.MODEL_UNAVAILABLE, f"{bag} is not a demucs bag file: {exc}") from exc
    if not sigs:
        raise PortFailure(ErrorKind.MODEL_UNAVAILABLE, f"{bag} lists no models")
    return sigs


def missing_weights(name: str, models_dir: str, weights_dir: str | None = None) -> list[str]:
    """The weight files a repo lacks for ``name``."""
    weights_dir = weights_dir or models_dir
    sigs = signatures(name, models_dir)
    missing = [s for s in sigs if not glob.glob(os.path.join(glob.escape(weights_dir), f"{glob.escape(s)}*.th"))]
    if missing == [name] and sigs == [name]:
        return [f"{name}.yaml"]
    return [f"{s}-<sha8>.th" for s in missing]


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}


def cached(name: str) -> bool:
    """Whether one of demucs's download caches (the Hugging Face hub's, torch.hub's) holds ``name``."""
    home = os.path.expanduser("~/.cache")
    hf = os.environ.get("HF_HUB_CACHE") or os.path.join(os.environ.get("HF_HOME", f"{home}/huggingface"), "hub")
    if glob.glob(os.path.join(glob.escape(hf), "models--*", "snapshots", "*", f"{glob.escape(name)}.yaml")):
        return True
    remote = remote_folder()
    hub = os.path.join(os.environ.get("TORCH_HOME", f"{home}/torch"), "hub", "checkpoints")
    return remote is not None and os.path.isdir(hub) and not missing_weights(name, remote, hub)


_reachable: bool | None = None


def download_reachable() -> bool:
    """Whether a download could start: a connection to one of DOWNLOAD_HOSTS within REACH_TIMEOUT_S (name
    lookup included, which a socket timeout does not bound). Asked once per process."""
    global _reachable
    if _reachable is None:
        hosts = [h.rsplit(":", 1) for h in DOWNLOAD_HOSTS.split(",") if h.strip()]
        if offline():  # the hub is off: demucs still tries its own repository
            hosts = hosts[1:] if len(hosts) > 1 else []
        found = threading.Event()

        def attempt(host: str, port: str) -> None:
            try:
                with socket.create_connection((host.strip(), int(port)), timeout=REACH_TIMEOUT_S):
                    found.set()
            except (OSError, ValueError):
                pass

        for host, port in hosts:
            threading.Thread(target=attempt, args=(host, port), daemon=True).start()
        _reachable = found.wait(REACH_TIMEOUT_S)
    return _reachable


def where(name: str, models_dir: str | None) -> tuple[str, str]:
    """Where ``name`` would load from now: ("models folder" | "download cache" | "download on first use",
    "") or ("", why not and what to do)."""
    if models_dir and os.path.isdir(models_dir) and not missing_weights(name, models_dir):
        return "models folder", ""
    if cached(name):
        return "download cache", ""
    if download_reachable():
        return "download on first use", ""
    if not models_dir:
        folder = "no models folder is set (SOUNDFORGE_MODELS_DIR)"
    elif not os.path.isdir(models_dir):
        folder = f"the models folder {models_dir} does not exist"
    else:
        folder = f"the models folder {models_dir} lacks {', '.join(missing_weights(name, models_dir))}"
    return "", (f"{folder}, it is not in the download cache, and its download cannot start from here. "
                f"Run `manage.py models fetch {name}` on a machine with internet and copy its models folder "
                "to this one's SOUNDFORGE_MODELS_DIR.")


# -- fetching --------------------------------------------------------------------------------------------------


def index(remote: str) -> dict[str, str]:
    """demucs's files.txt: signature -> the weight file's path under ROOT_URL."""
    root, files = "", {}
    with open(os.path.join(remote, "files.txt")) as listing:
        for line in (raw.strip() for raw in listing):
            if not line or line.startswith("#"):
                continue
            if line.startswith("root:"):
                root = line.split(":", 1)[1].strip()
            else:
                files[line.split("-", 1)[0]] = root + line
    return files


def sha8_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(FETCH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()[:8]


def verified(path: str) -> bool:
    """Whether a ``<sig>-<sha8>.th`` file's content has the checksum its name says."""
    stem = os.path.basename(path).rsplit(".", 1)[0]
    return "-" in stem and sha8_of(path) == stem.rsplit("-", 1)[1]


def download(url: str, dest: str, stage: str) -> None:
    """``url`` into ``dest`` (through ``dest.part``), with progress lines; nothing left on failure."""
    part = dest + ".part"
    try:
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_S) as answer, open(part, "wb") as out:  # noqa: S310
            total = int(answer.headers.get("Content-Length") or 0)
            done, said = 0, 0.0
            while chunk := answer.read(FETCH_CHUNK):
                out.write(chunk)
                done += len(chunk)
                if time.monotonic() - said >= 0.5:
                    said = time.monotonic()
                    progress(done / total if total else 0.0, stage, bytes=done, total=total)
        os.replace(part, dest)
    except (OSError, urllib.error.URLError) as exc:
        if os.path.exists(part):
            os.remove(part)
        raise PortFailure(ErrorKind.FETCH_FAILED, f"could not download {url}: {exc}") from exc


def fetch(names: list[str], models_dir: str, url: str) -> dict[str, list[str]]:
    remote = remote_folder()
    files = index(remote) if remote else {}
    os.makedirs(models_dir, exist_ok=True)
    fetched: dict[str, list[str]] = {}
    for name in names:
        bag = f"{name}.yaml"
        if remote and os.path.isfile(os.path.join(remote, bag)):
            with open(os.path.join(remote, bag), "rb") as src, open(os.path.join(models_dir, bag), "wb") as dst:
                dst.write(src.read())
        else:
            try:
                download(url + bag, os.path.join(models_dir, bag), f"fetching {bag}")
            except PortFailure:
                pass  # no bag: a single model's signature
        got = [bag] if os.path.isfile(os.path.join(models_dir, bag)) else []
        for sig in signatures(name, models_dir):
            path = files.get(sig) or _listed(url, sig)
            dest = os.path.join(models_dir, os.path.basename(path))
            if not (os.path.isfile(dest) and verified(dest)):
                download(url + path, dest, f"fetching {name}: {os.path.basename(path)}")
                if not verified(dest):
                    os.remove(dest)
                    raise PortFailure(ErrorKind.CHECKSUM_MISMATCH, f"{os.path.basename(path)} from {url} does not "
                                                                   "have the checksum its name says; nothing was kept")
            got.append(os.path.basename(path))
        fetched[name] = got
    return fetched


def _listed(url: str, sig: str) -> str:
    """A signature demucs's files.txt does not know: the repository at ``url`` lists its files in its own."""
    handle, listing = tempfile.mkstemp(suffix=".txt")
    os.close(handle)
    try:
        download(url + "files.txt", listing, "fetching the file list")
        with open(listing) as file:
            for line in (raw.strip() for raw in file):
                if line.split("-", 1)[0] == sig and line.endswith(".th"):
                    return line
    finally:
        if os.path.exists(listing):
            os.remove(listing)
    raise PortFailure(ErrorKind.MODEL_UNAVAILABLE, f"no weights for {sig!r} at {url}")


def main(argv: list[str]) -> dict[str, Any]:
    parser = Parser(prog="python -m tracks.ports.demucs_repo")
    parser.add_argument("command", choices=["fetch"])
    parser.add_argument("names", nargs="+")
    parser.add_argument("--models-dir", required=True)
    parser.add_argument("--url", default=ROOT_URL, help="a repository of demucs weights (default: demucs's own)")
    args = parser.parse_args(argv)
    url = args.url if args.url.endswith("/") else args.url + "/"
    return {"fetched": fetch(args.names, args.models_dir, url), "models_dir": args.models_dir}


if __name__ == "__main__":
    sys.exit(run(main, sys.argv[1:], ErrorKind.FETCH_FAILED))
