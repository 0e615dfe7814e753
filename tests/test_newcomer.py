"""What a newcomer meets in the first hour: image URLs, download progress, quiet start-up, the default
implementation, a stub's TODO as one line, the sample video, per-part grades and per-part submissions.

HTTP is a real ``http.server`` on 127.0.0.1; TensorFlow, Pillow and ffmpeg are the real ones.
"""
from __future__ import annotations

import functools
import http.server
import json
import os
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nst import images
from nst.errors import NstError

REPO = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ CONTENT / STYLE as URLs
class _Handler(http.server.SimpleHTTPRequestHandler):
    hits: list[str] = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        type(self).hits.append(self.path)
        super().do_GET()


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(root / "cat.png")
    (root / "page.html").write_text("<html>not an image</html>")
    (root / "big.jpg").write_bytes(os.urandom(300_000))
    _Handler.hits = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(root)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_an_image_url_is_downloaded_once_and_cached(server, tmp_path, monkeypatch):
    monkeypatch.setenv("NST_HOME", str(tmp_path / "home"))
    url = f"{server}/cat.png"
    first = images.load_image(url)
    again = images.load_image(url)
    assert first.shape == (40, 60, 3) and np.array_equal(first, again)
    assert _Handler.hits == ["/cat.png"], "the second load must come from the cache"
    cached = images.resolve_image(url)
    assert cached.parent == tmp_path / "home" / "images" and cached.name.endswith("-cat.png")
    assert [p.name for p in cached.parent.iterdir()] == [cached.name], "no temp files left beside the cache"


@pytest.mark.parametrize("name, message", [("page.html", "not an image"), ("missing.jpg", "404"),
                                           ("big.jpg", "over the limit")])
def test_a_bad_image_url_is_one_error_and_caches_nothing(server, tmp_path, monkeypatch, name, message):
    monkeypatch.setenv("NST_HOME", str(tmp_path / "home"))
    with pytest.raises(NstError, match=message) as e:
        images.resolve_image(f"{server}/{name}", max_bytes=200_000)
    assert f"{server}/{name}" in str(e.value) or message == "not an image"
    assert "\n" not in str(e.value)
    folder = tmp_path / "home" / "images"
    assert not folder.exists() or list(folder.iterdir()) == []


def test_nst_stylize_takes_urls(server, tmp_path, monkeypatch):
    monkeypatch.setenv("NST_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NST_IMPL", "solutions")
    home_weights = Path.home() / ".cache" / "nst" / "weights"
    if (home_weights / "vgg19.npz").is_file():  # the real weights, not a second download
        (tmp_path / "home").mkdir(exist_ok=True)
        os.symlink(home_weights, tmp_path / "home" / "weights")
    from nst.cli import main

    run = tmp_path / "run"
    code = main(["stylize", f"{server}/cat.png", "--style", f"{server}/cat.png", "--iterations", "1",
                 "--max-size", "32", "--run-dir", str(run)])
    assert code == 0 and (run / "final.png").is_file()
    assert _Handler.hits == ["/cat.png"]


def test_nst_fast_stylize_takes_urls(server, tmp_path, monkeypatch):
    """Issue 24: the same URL helper as nst stylize (downloaded once, checked, cached)."""
    monkeypatch.setenv("NST_HOME", str(tmp_path / "home"))
    from nst.cli import main

    for _ in range(2):
        assert main(["fast", "stylize", f"{server}/cat.png", "--model", "stained_glass_demo", "--impl", "solutions",
                     "-o", str(tmp_path / "out")]) == 0
    made = list((tmp_path / "out").glob("*cat_stained_glass_demo.png"))
    assert len(made) == 1 and _Handler.hits == ["/cat.png"], (made, _Handler.hits)
    assert main(["fast", "stylize", f"{server}/page.html", "--model", "stained_glass_demo"]) == 2


def test_nst_arbitrary_stylize_and_grid_take_urls(server, tmp_path, monkeypatch):
    """Issue 24: every command that reads an image takes a URL the same way; part 3's content too."""
    from nst.cli import main
    from nst.weights import nst_home

    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "weights").symlink_to(nst_home() / "weights")   # the converted model, not a new fetch
    monkeypatch.setenv("NST_HOME", str(tmp_path / "home"))

    style = str(REPO / "styles" / "swirls.jpg")
    for _ in range(2):
        assert main(["arbitrary", "stylize", f"{server}/cat.png", "--style", style, "--impl", "solutions",
                     "-o", str(tmp_path / "out.png")]) == 0
    assert main(["arbitrary", "grid", f"{server}/cat.png", "--style", style, "--style", style, "--steps", "2",
                 "--impl", "solutions", "-o", str(tmp_path / "grid.png")]) == 0
    assert (tmp_path / "out.png").is_file() and (tmp_path / "grid.png").is_file()
    assert _Handler.hits == ["/cat.png"], _Handler.hits   # downloaded once, then the cached file
    assert main(["arbitrary", "stylize", f"{server}/page.html", "--style", style, "-o", str(tmp_path / "x.png")]) == 2


# ------------------------------------------------------------------ downloads say how far they are
def test_a_download_off_a_terminal_prints_progress_lines(server, tmp_path, capsys, monkeypatch):
    from nst import download

    monkeypatch.setattr(download, "LINE_EVERY_S", 0.0)
    monkeypatch.setattr(download, "CHUNK", 64 * 1024)
    download.download(f"{server}/big.jpg", tmp_path / "big.jpg")
    err = capsys.readouterr().err.splitlines()
    assert len(err) >= 3 and err[0].startswith("big.jpg: 0.1 MB of 0.3 MB (")
    assert err[-1].startswith("big.jpg: 0.3 MB of 0.3 MB (100%), done in")
    assert (tmp_path / "big.jpg").stat().st_size == 300_000


# ------------------------------------------------------------------ start-up, devices, the default impl
def _nst(args: list[str], cwd: Path, **env) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in ("NST_IMPL", "TF_CPP_MIN_LOG_LEVEL")}
    environ.update(env)
    return subprocess.run([sys.executable, "-m", "nst", *args], cwd=cwd, env=environ, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def release_like(tmp_path_factory) -> Path:
    """This checkout's nst/ and assignment/ without solutions/: what a student has."""
    tree = tmp_path_factory.mktemp("student")
    for top in ("nst", "assignment"):
        subprocess.run(["cp", "-r", str(REPO / top), str(tree / top)], check=True)
    for top in ("content", "styles"):
        (tree / top).mkdir()
    Image.open(REPO / "content" / "chelsea.jpg").save(tree / "content" / "chelsea.jpg")
    Image.open(REPO / "styles" / "swirls.jpg").save(tree / "styles" / "swirls.jpg")
    return tree


@pytest.mark.slow
def test_without_solutions_commands_run_the_stubs_and_name_the_todo(release_like):
    done = _nst(["stylize", "--iterations", "1", "--max-size", "32"], release_like, PYTHONPATH=str(release_like))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith("nst: TensorFlow ") and " on CPU" in lines[0], "say which devices it runs on"
    assert lines[-1].startswith("error: assignment/") and "TODO" in lines[-1] and "is not done yet" in lines[-1]
    assert "Traceback" not in done.stderr
    for noise in ("absl::InitializeLog", "oneDNN custom operations", "cpu_feature_guard"):
        assert noise not in done.stderr, f"TensorFlow start-up noise: {noise}"


def test_the_quiet_import_keeps_other_lines(tmp_path):
    code = ("import os, sys\nfrom nst.runtime import filtered_stderr\nwith filtered_stderr():\n"
            "    os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n')\n"
            "    os.write(2, b'I0000 00:00:1796.1 5639 port.cc:153] oneDNN custom operations are on.\\n')\n"
            "    os.write(2, b'a real problem\\n')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == 0 and done.stderr == "a real problem\n", done.stderr


def test_the_default_impl_follows_solutions(monkeypatch, tmp_path):
    from nst import impl

    monkeypatch.delenv("NST_IMPL", raising=False)
    assert impl.default_impl() == "solutions"  # this checkout has solutions/
    monkeypatch.setattr(impl, "CHECKOUT", tmp_path)
    assert impl.default_impl() == "assignment"
    monkeypatch.setenv("NST_IMPL", "solutions")
    assert impl.default_impl() == "solutions"


def test_a_nested_todo_is_named_by_its_enclosing_function():
    from nst.course.stubs import make_stub

    source = ("class A:\n    def optimize(self):\n        def step():\n            # BEGIN SOLUTION: TODO 8: a step\n"
              "            return 1\n            # END SOLUTION\n        return step\n\n    def other(self):\n"
              "        # BEGIN SOLUTION: TODO 9: other\n        return 2\n        # END SOLUTION\n")
    stub = make_stub(source, "m.py")
    assert '"TODO 8: a step (m.py:optimize.step)"' in stub and '"TODO 9: other (m.py:other)"' in stub
    text = (REPO / "assignment" / "style_transfer.py").read_text()
    assert "(style_transfer.py:optimize.train_step)" in text and "self.gstep" in text


# ------------------------------------------------------------------ nst data sample-video
def test_sample_video_is_short_deterministic_and_atomic(tmp_path):
    from nst.data import sample_video
    from nst.video import read_video

    a = sample_video(REPO / "content" / "chelsea.jpg", tmp_path / "a.mp4", frames=6, size=64)
    b = sample_video(REPO / "content" / "chelsea.jpg", tmp_path / "b.mp4", frames=6, size=64)
    info, frames = read_video(a)
    frames = list(frames)
    assert info["frames"] == 6 and max(info["size"]) == 64 and len(frames) == 6
    assert not np.array_equal(frames[0], frames[-1]), "the camera moves"
    assert a.read_bytes() == b.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4", "b.mp4"]
    with pytest.raises(NstError, match="frames >= 2"):
        sample_video(REPO / "content" / "chelsea.jpg", tmp_path / "c.mp4", frames=1)
    assert not (tmp_path / "c.mp4").exists()


# ------------------------------------------------------------------ nst grade: each part's total
def test_the_grade_table_shows_each_part_and_parts_not_started():
    from nst.grading.report import table
    from nst.grading.runner import Grade, GradedTest, TestResult

    def result(part, points, earned, status, reason=""):
        done = TestResult(GradedTest(f"tests/t{part}.py::test_{part}_{points}_{status}_{len(reason)}", points, part),
                          status, reason, "")
        assert done.earned == earned
        return done

    todo = "NotImplementedError: TODO 1: the transformer (transformer_net.py:forward)"
    grade = Grade("assignment", [result(1, 60, 60, "passed"), result(1, 40, 40, "passed"),
                                 result(2, 50, 0, "failed", todo), result(2, 50, 0, "failed", todo + " "),
                                 result(3, 100, 0, "failed", "AssertionError: wrong")])
    text = table(grade)
    assert "Part 1: 100/100, complete" in text
    assert "Part 2: 0/100, not started" in text
    assert "Part 3: 0/100\n" in text and "Part 3: 0/100, not" not in text
    assert text.index("Part 1:") < text.index("Total: 100/300")


# ------------------------------------------------------------------ nst course submit --part N
def _gatys_run(outputs: Path, name: str, iterations: int, content: str, smoke: bool = False) -> Path:
    import tensorflow as tf

    from nst.images import save_image

    run = outputs / name
    save_image(np.full((8, 8, 3), 100, np.uint8), run / "final.png")
    (run / "settings.json").write_text(json.dumps({"content": content, "styles": ["styles/swirls.jpg"],
                                                   "iterations": iterations, "smoke": smoke}))
    with tf.summary.create_file_writer(str(run / "logs")).as_default():
        for step in (1, 2):
            tf.summary.scalar("loss/total", 1.0 / step, step=step)
    return run


def _fast_run(outputs: Path, naming: str, steps: int) -> Path:
    import tensorflow as tf

    from nst.images import save_image

    run = outputs / "models" / naming
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"naming": naming, "style_image": "styles/tide.jpg"}))
    with tf.summary.create_file_writer(str(run / "logs")).as_default():
        for step in range(10, steps + 1, 10):
            tf.summary.scalar("loss/total", 100.0 / step, step=step)
    from nst.provenance import model_record, write_sidecar

    model = outputs / "models" / f"{naming}.npz"
    model.write_bytes(b"the student's model " + naming.encode())
    made = save_image(np.full((8, 8, 3), 50, np.uint8), outputs / "fast" / f"chelsea_{naming}.jpg")
    write_sidecar(made, model_record(model, outputs.parent / "models"))  # as nst fast stylize writes it
    return run


@pytest.fixture
def project(tmp_path) -> Path:
    (tmp_path / "assignment").mkdir()
    for name in ("__init__.py", "load_vgg.py", "style_transfer.py", "transformer_net.py", "fast_style.py"):
        (tmp_path / "assignment" / name).write_text((REPO / "solutions" / name).read_text())
    outputs = tmp_path / "outputs"
    old = _gatys_run(outputs, "chelsea-swirls-old", 300, "content/chelsea.jpg")
    os.utime(old / "final.png", (1, 1))
    _gatys_run(outputs, "chelsea-swirls-new", 300, "content/chelsea.jpg")
    _gatys_run(outputs, "notebook-part1", 5, "content/chelsea.jpg", smoke=True)
    _gatys_run(outputs, "astronaut-swirls", 200, "content/astronaut.jpg")
    _fast_run(outputs, "tide", 300)
    return tmp_path


def test_submit_part_1_packs_its_latest_real_run_per_image_pair(project, capsys):
    from nst.cli import main

    code = main(["course", "submit", "--root", str(project), "--part", "1", "-o", str(project / "p1.zip")])
    err = capsys.readouterr().err
    assert code == 0, err
    with zipfile.ZipFile(project / "p1.zip") as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
    runs = {n.split("/")[1] for n in names if n.startswith("runs/")}
    assert runs == {"chelsea-swirls-new", "astronaut-swirls"}, runs
    assert not any("transformer_net" in n or "fast_style" in n for n in names)
    assert "left out" in err and "notebook-part1" in err and manifest["notes"]


def test_submit_part_2_packs_its_models_training_curves_and_stylized_images(project, capsys):
    from nst.cli import main

    code = main(["course", "submit", "--root", str(project), "--part", "2", "-o", str(project / "p2.zip")])
    assert code == 0, capsys.readouterr().err
    with zipfile.ZipFile(project / "p2.zip") as zf:
        names = set(zf.namelist())
        curves = zf.read("runs/models/tide/training_curves.png")
    assert curves[:8] == b"\x89PNG\r\n\x1a\n"
    assert {"runs/models/tide/config.json", "runs/models/tide/stylized/chelsea_tide.jpg",
            "assignment/transformer_net.py", "assignment/fast_style.py"} <= names
    assert not any(n.startswith("runs/chelsea") or n.endswith("style_transfer.py") for n in names)


def test_submit_part_1_names_the_rule_and_takes_the_students_pick(project, capsys, monkeypatch):
    """Issue 24: a later run of the same images replaces an earlier one; the note says which rule and how to
    hand in the other (--run); each part writes its own zip."""
    from nst.cli import main

    monkeypatch.chdir(project)
    assert main(["course", "submit", "--part", "1"]) == 0
    err = capsys.readouterr().err
    assert (project / "submission_part1.zip").is_file() and not (project / "submission.zip").exists()
    note = next(line for line in err.splitlines() if "chelsea-swirls-old" in line)
    assert "rule: the latest real run per content and style" in note and "--run" in note, note
    assert main(["course", "submit", "--part", "1", "--run", "outputs/chelsea-swirls-old"]) == 0
    with zipfile.ZipFile(project / "submission_part1.zip") as zf:
        runs = {n.split("/")[1] for n in zf.namelist() if n.startswith("runs/")}
    assert runs == {"chelsea-swirls-old", "astronaut-swirls"}, runs
    assert "you picked chelsea-swirls-old" in capsys.readouterr().err
    assert main(["course", "submit", "--part", "2"]) == 0
    assert (project / "submission_part1.zip").is_file() and (project / "submission_part2.zip").is_file()


def test_settings_record_the_implementation_that_ran(tmp_path, monkeypatch):
    from nst.cli import main

    monkeypatch.setenv("NST_IMPL", "solutions")
    run = tmp_path / "run"
    assert main(["stylize", str(REPO / "content" / "chelsea.jpg"), "--style", str(REPO / "styles" / "swirls.jpg"),
                 "--iterations", "1", "--max-size", "32", "--run-dir", str(run)]) == 0
    assert json.loads((run / "settings.json").read_text())["impl"] == "solutions"


def test_submit_part_2_packs_only_images_made_by_the_students_own_model(project, capsys):
    """Issue 20: an image named like the student's model but made by a shipped model (or with no record of
    its model) is not the student's work: left out, and the notes say so."""
    from nst.cli import main
    from nst.images import save_image
    from nst.provenance import model_record, write_sidecar

    shipped_dir = project / "models"
    shipped_dir.mkdir()
    (shipped_dir / "tide.npz").write_bytes(b"a shipped model")
    by_shipped = save_image(np.full((8, 8, 3), 9, np.uint8), project / "outputs" / "demo" / "coffee_tide.png")
    write_sidecar(by_shipped, model_record(shipped_dir / "tide.npz", shipped_dir))
    save_image(np.full((8, 8, 3), 9, np.uint8), project / "outputs" / "old" / "rocket_tide.png")  # no record
    code = main(["course", "submit", "--root", str(project), "--part", "2", "-o", str(project / "p2.zip")])
    err = capsys.readouterr().err
    assert code == 0, err
    with zipfile.ZipFile(project / "p2.zip") as zf:
        stylized = {n.rsplit("/", 1)[1] for n in zf.namelist() if "/stylized/" in n}
    assert stylized == {"chelsea_tide.jpg"}, stylized
    assert "coffee_tide.png" in err and "rocket_tide.png" in err and "left out" in err


def test_fast_stylize_records_the_model_beside_each_output(tmp_path, monkeypatch):
    from nst.cli import main
    from nst.download import file_digest
    from nst.fast.zoo import models_dir
    from nst.provenance import read_sidecar

    shipped = models_dir() / "stained_glass_demo.npz"
    assert main(["fast", "stylize", str(REPO / "content" / "chelsea.jpg"), "--model", "stained_glass_demo",
                 "--max-size", "32", "-o", str(tmp_path / "out"), "--impl", "solutions"]) == 0
    out = tmp_path / "out" / "chelsea_stained_glass_demo.jpg"
    record = read_sidecar(out)
    assert out.is_file() and record == {"model": str(shipped.resolve()), "sha256": file_digest(shipped),
                                        "shipped": True, "name": "stained_glass_demo"}, record


def test_a_trained_model_never_takes_a_shipped_models_name(tmp_path, capsys):
    from nst.cli.fast import _own_name
    from nst.errors import NstError
    from nst.fast.config import TrainConfig

    config = TrainConfig(style_image="styles/stained_glass.jpg", naming="stained_glass_demo",
                         model_path=str(tmp_path))
    own = _own_name(config, given=False)
    assert own.naming == "stained_glass_demo_mine" and own.model_file == tmp_path / "stained_glass_demo_mine.npz"
    assert "shipped model's name" in capsys.readouterr().out
    with pytest.raises(NstError, match="shipped model has that name"):
        _own_name(config, given=True)
    mine = TrainConfig(style_image="styles/stained_glass.jpg", naming="mine", model_path=str(tmp_path))
    assert _own_name(mine, given=True) is mine


def test_submit_part_2_without_a_model_says_how_to_train_one(project, capsys):
    import shutil

    from nst.cli import main

    shutil.rmtree(project / "outputs" / "models")
    code = main(["course", "submit", "--root", str(project), "--part", "2", "-o", str(project / "p2.zip")])
    err = capsys.readouterr().err
    assert code == 2 and "nst fast train" in err and len(err.strip().splitlines()) == 1
    assert not (project / "p2.zip").exists()
