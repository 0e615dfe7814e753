"""`nst data` and the image scripts: deterministic output, fetching from a mirror and over HTTP.

HTTP is tested against a real ``http.server`` on 127.0.0.1 serving copies of two
paintings (the repository's own styles/*.jpg, copied under the classics' names at test time).
"""
from __future__ import annotations

import functools
import os
import http.server
import re
import shutil
import socket
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nst import data
from nst.cli import main

REPO = Path(__file__).resolve().parents[1]


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"), dtype=np.float32)


def error_lines(err: str) -> list[str]:
    """The ``error:`` lines of stderr, which must hold no traceback."""
    assert "Traceback" not in err and not re.search(r'^\s+File "', err, re.M), err
    return [line for line in err.splitlines() if line.startswith("error:")]


def entries(folder: Path) -> list[str]:
    """Every name in ``folder``, hidden temp files included."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.fixture(autouse=True)
def _no_network_settings(monkeypatch):
    for var in ("NST_DATA_MIRROR", "NST_DATA_BASE_URL", "http_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


# ----------------------------------------------------------------------------- scripts
def test_export_content_is_deterministic_small_and_documented(tmp_path):
    from nst.samples import photos as exporter

    a = exporter.export_content(tmp_path / "a", log=lambda _: None)
    b = exporter.export_content(tmp_path / "b", log=lambda _: None)
    assert [p.name for p in a] == [f"{n}.jpg" for n in exporter.SAMPLES] and len(a) >= 4
    licences = (tmp_path / "a" / "LICENSES.md").read_text()
    for pa, pb in zip(a, b):
        assert pa.read_bytes() == pb.read_bytes(), pa.name
        assert pa.stat().st_size < 150 * 1024
        with Image.open(pa) as img:
            assert img.format == "JPEG" and img.mode == "RGB" and max(img.size) <= 512
        assert pa.name in licences
        committed = REPO / "content" / pa.name  # the repository's copy is what the script makes
        assert np.abs(pixels(committed) - pixels(pa)).mean() < 1.0, pa.name
    assert "CC0" in licences and "public domain" in licences


def test_make_styles_same_seed_same_bytes_other_seed_differs(tmp_path):
    from nst.samples import paintings as painter

    quiet = dict(size=96, log=lambda _: None)
    first = painter.make_styles(tmp_path / "a", seed=3, **quiet)
    again = painter.make_styles(tmp_path / "b", seed=3, **quiet)
    other = painter.make_styles(tmp_path / "c", seed=4, **quiet)
    assert len(first) == len(painter.PAINTERS) >= 3
    for p1, p2, p3 in zip(first, again, other):
        assert p1.read_bytes() == p2.read_bytes(), p1.name
        assert np.abs(pixels(p1) - pixels(p3)).mean() > 3, f"{p1.name}: the seed changes nothing"
        assert pixels(p1).shape == (96, 96, 3)


def test_committed_styles_are_painterly_and_classics_are_ignored():
    from nst.samples import paintings as painter

    for name in painter.PAINTERS:
        path = REPO / "styles" / f"{name}.jpg"
        assert path.stat().st_size < 200 * 1024
        img = pixels(path)
        assert img.shape == (512, 512, 3)
        assert img.std() > 40, f"{name}: too flat to be a style"  # strong contrast
        assert np.abs(np.diff(img, axis=1)).mean() > 6, f"{name}: no fine texture"
    ignored = (REPO / "styles" / ".gitignore").read_text().split()
    assert all(c.filename in ignored for c in data.CLASSICS.values())
    assert not set(painter.PAINTERS) & set(data.CLASSICS)


def test_setup_works_from_an_installed_package_without_the_checkouts_tools(tmp_path):
    """`nst data setup` needs only the installed package: a copy of nst/ alone, no tools/ beside it."""
    import subprocess
    import sys

    site = tmp_path / "site"
    shutil.copytree(REPO / "nst", site / "nst", ignore=shutil.ignore_patterns("__pycache__"))
    styles = tmp_path / "styles"
    shutil.copytree(REPO / "styles", styles)
    (styles / "tide.jpg").unlink()
    run = subprocess.run([sys.executable, "-m", "nst", "data", "setup", "--content", str(tmp_path / "content"),
                          "--styles", str(styles)], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(site)})
    assert run.returncode == 0, run.stderr
    assert (styles / "tide.jpg").read_bytes() == (REPO / "styles" / "tide.jpg").read_bytes()
    assert sorted(p.name for p in (tmp_path / "content").iterdir()) == sorted(
        p.name for p in (REPO / "content").iterdir())


def test_setup_is_idempotent_and_fills_only_what_is_missing(tmp_path, capsys):
    content, styles = tmp_path / "content", tmp_path / "styles"
    shutil.copytree(REPO / "content", content)
    shutil.copytree(REPO / "styles", styles)
    args = ["data", "setup", "--content", str(content), "--styles", str(styles)]
    assert main(args) == 0
    assert "0 file(s) written" in capsys.readouterr().out

    (styles / "composition.jpg").unlink()
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "1 file(s) written" in out and "composition.jpg" in out
    assert np.abs(pixels(styles / "composition.jpg") - pixels(REPO / "styles" / "composition.jpg")).mean() < 1.0


def test_list_shows_sizes_and_unfetched_classics(tmp_path, capsys):
    styles = tmp_path / "styles"
    styles.mkdir()
    shutil.copy(REPO / "styles" / "tide.jpg", styles)
    assert main(["data", "list", "--content", str(REPO / "content"), "--styles", str(styles)]) == 0
    out = capsys.readouterr().out
    assert "astronaut.jpg" in out and "512x512" in out and "tide.jpg" in out
    assert "not fetched" in out and "starry_night.jpg" in out


# ----------------------------------------------------------------------------- mirror
@pytest.fixture
def mirror(tmp_path) -> Path:
    """A test image mirror (``styles/<classic>.jpg``) made of the repository's own paintings: what the fetch
    does with a file is the point here, not which painting it is (no ../shared needed)."""
    own = sorted((REPO / "styles").glob("*.jpg"))
    folder = tmp_path / "mirror"
    (folder / "styles").mkdir(parents=True)
    for i, name in enumerate(data.CLASSICS):
        shutil.copy(own[i % len(own)], folder / "styles" / f"{name}.jpg")
    return folder


def test_fetch_classics_from_mirror_env(tmp_path, mirror, monkeypatch, capsys):
    monkeypatch.setenv("NST_DATA_MIRROR", str(mirror))
    dest = tmp_path / "styles"
    assert main(["data", "fetch-classics", "--dest", str(dest), "--max-size", "256"]) == 0
    out = capsys.readouterr().out
    assert entries(dest) == sorted(c.filename for c in data.CLASSICS.values())
    for c in data.CLASSICS.values():
        with Image.open(dest / c.filename) as img:
            img.load()
            assert img.format == "JPEG" and max(img.size) == 256
        assert f"{c.filename}: saved" in out
    assert "6 fetched" in out


def test_flat_mirror_skip_and_force(tmp_path, mirror, capsys):
    flat = tmp_path / "flat"
    flat.mkdir()
    shutil.copy(mirror / "styles" / "wave.jpg", flat / "wave.jpg")
    dest = tmp_path / "out"
    args = ["data", "fetch-classics", "--mirror", str(flat), "--dest", str(dest), "--only", "wave"]
    assert main(args) == 0
    fetched = (dest / "wave.jpg").read_bytes()
    assert fetched == (flat / "wave.jpg").read_bytes()  # already a small JPEG: kept byte for byte

    (dest / "wave.jpg").write_bytes(b"user's own file")
    capsys.readouterr()
    assert main(args) == 0
    assert "exists, skipped" in capsys.readouterr().out
    assert (dest / "wave.jpg").read_bytes() == b"user's own file"

    assert main(args + ["--force"]) == 0
    assert (dest / "wave.jpg").read_bytes() == fetched


def test_mirror_without_the_painting_is_one_error(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    dest = tmp_path / "out"
    assert main(["data", "fetch-classics", "--mirror", str(empty), "--dest", str(dest), "--only", "udnie"]) == 2
    errors = error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and "Udnie" in errors[0] and str(empty) in errors[0]
    assert entries(dest) == []


# ----------------------------------------------------------------------------- HTTP
class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def commons(tmp_path, mirror, monkeypatch):
    """A loopback 'Wikimedia' serving wave and udnie under their Commons names, and an HTML page
    where The Scream should be; The Shipwreck is missing (404)."""
    served = tmp_path / "served"
    files = served / "wiki" / "Special:FilePath"
    files.mkdir(parents=True)
    for name in ("wave", "udnie"):
        shutil.copy(mirror / "styles" / f"{name}.jpg", files / data.CLASSICS[name].file)
    (files / data.CLASSICS["the_scream"].file).write_text("<html><body>File not found</body></html>")
    handler = functools.partial(QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}/wiki/Special:FilePath/"
    monkeypatch.setenv("NST_DATA_BASE_URL", base)
    try:
        yield base
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_fetch_over_http(tmp_path, commons, capsys):
    dest = tmp_path / "styles"
    assert main(["data", "fetch-classics", "--dest", str(dest), "--only", "wave", "udnie", "--max-size", "200"]) == 0
    out = capsys.readouterr().out
    assert "downloading The Great Wave off Kanagawa" in out and "127.0.0.1" in out
    assert entries(dest) == ["udnie.jpg", "wave.jpg"]
    for name in ("udnie.jpg", "wave.jpg"):
        with Image.open(dest / name) as img:
            img.load()
            assert max(img.size) == 200


@pytest.mark.parametrize("name, title, reason", [
    ("shipwreck", "The Shipwreck", "404"),
    ("the_scream", "The Scream", "not an image"),
])
def test_http_failure_is_one_clear_error_and_no_file(tmp_path, commons, capsys, name, title, reason):
    dest = tmp_path / "styles"
    assert main(["data", "fetch-classics", "--dest", str(dest), "--only", name]) == 2
    captured = capsys.readouterr()
    errors = error_lines(captured.err)
    assert len(errors) == 1, captured.err
    assert title in errors[0] and reason in errors[0] and commons in errors[0]
    assert "Traceback" not in captured.err
    assert entries(dest) == []


def test_failures_do_not_stop_the_others(tmp_path, commons, capsys):
    dest = tmp_path / "styles"
    assert main(["data", "fetch-classics", "--dest", str(dest), "--only", "shipwreck", "wave", "the_scream"]) == 2
    captured = capsys.readouterr()
    assert "1 fetched" in captured.out and "2 failed" in captured.out
    errors = error_lines(captured.err)
    assert len(errors) == 2 and "Shipwreck" in errors[0] and "Scream" in errors[1]
    assert entries(dest) == ["wave.jpg"]


def test_offline_is_one_clear_error(tmp_path, monkeypatch, capsys):
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("NST_DATA_BASE_URL", f"http://127.0.0.1:{port}/")
    dest = tmp_path / "styles"
    assert main(["data", "fetch-classics", "--dest", str(dest), "--only", "starry_night", "--timeout", "5"]) == 2
    errors = error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and "The Starry Night" in errors[0] and f"127.0.0.1:{port}" in errors[0]
    assert entries(dest) == []


def test_classic_url_quotes_the_commons_file_name():
    url = data.classic_url(data.CLASSICS["udnie"], base_url="https://commons.wikimedia.org/wiki/Special:FilePath/")
    assert url.startswith("https://commons.wikimedia.org/wiki/Special:FilePath/Francis%20Picabia%2C%201913")
    assert "am%C3%A9ricaine" in url and " " not in url and url.endswith("?width=1024")
