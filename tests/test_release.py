"""The student release stands on its own: its README names only what the zip holds, and its commands work.

The release is built from this repository and unpacked into a temp folder. Every path the student
README names must exist there (or be made by one of its commands, checked after running them); every
``nst`` command in it must parse; and the slow test runs the README's commands in order, as a student
would, at tiny sizes (``TINY`` appends options; a later option wins in argparse): first the tests on
the untouched stubs, then, with parts 1 and 2 "written" (the reference copied into ``assignment/``),
everything else. Servers (TensorBoard, JupyterLab) and installs are not started; what they need is
checked instead.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"```bash\n(.*?)```", re.S)
TICKED = re.compile(r"`([^`\n]+)`")
PATHLIKE = re.compile(r"^(?:[\w.-]+/)*[\w.-]+(?:/|\.(?:py|ipynb|yml|yaml|md|jpg|png|npz|mp4|json|toml))$")
# Made by the README's own commands (checked after the slow test has run them), or the student's own files.
GENERATED = re.compile(r"^(outputs/.*|outputs|content/video/.*|submission(_part\d)?\.zip|curves\.png|out\.png|photo\.jpg|painting\.jpg)$")
NOT_RUN = ("python3 -m venv", "pip install", "tensorboard ", "jupyter lab")  # installs and servers
TINY = {  # command prefix -> options appended so it runs in seconds
    "nst stylize": ["--iterations", "2", "--max-size", "48"],
    "nst fast stylize": ["--max-size", "48", "--max-frames", "3"],
    "nst fast train": ["--steps", "2", "--image-size", "32", "--batch-size", "1"],
    "nst data sample-video": ["--frames", "4", "--size", "64"],
    "nst arbitrary stylize": ["--max-size", "48"],
}
WRITTEN = ["load_vgg.py", "style_transfer.py", "transformer_net.py", "fast_style.py"]  # parts 1 and 2


def readme_commands(text: str) -> list[str]:
    """Every command line of the README's ```bash blocks, comments dropped, in order."""
    lines = []
    for block in FENCE.findall(text):
        for line in block.splitlines():
            line = line.split("  #", 1)[0].strip()
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


def inline_nst_commands(text: str) -> list[str]:
    return [t for t in TICKED.findall(text) if t.startswith("nst ")]


def named_paths(text: str) -> set[str]:
    """Paths the README names: backticked tokens and command words that look like files or folders."""
    words = [t for t in TICKED.findall(text)] + [w for c in readme_commands(text) for w in shlex.split(c)]
    found = set()
    for word in words:
        for token in re.split(r"[\s:,]+", word):
            token = token.strip("()'\"")
            if (PATHLIKE.match(token) and "<" not in token and not token.startswith(("http", "~", "-", "."))
                    and not re.match(r"^\d", token)):
                found.add(token)
    return found


def exists_in(tree: Path, token: str) -> bool:
    """A path with a folder must exist as written; a bare file name somewhere in the tree."""
    if "/" in token.rstrip("/"):
        return (tree / token).exists()
    return (tree / token).exists() or any(tree.rglob(token))


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    from nst.course.release import student_release

    out = tmp_path_factory.mktemp("dist")
    built = student_release(REPO, out)
    with zipfile.ZipFile(built.path) as zf:
        zf.extractall(out)
    tree = out / "nst-student"
    assert (tree / "README.md").is_file() and not (tree / "solutions").exists()
    return tree


@pytest.fixture(scope="module")
def readme(release) -> str:
    return (release / "README.md").read_text()


def test_the_release_readme_is_the_student_readme(release, readme):
    assert readme == (REPO / "nst" / "course" / "student_readme.md").read_text()
    for instructor_only in ("solutions/", "tests/planted", "docs/", ".ci/", "Gradescope", "../shared"):
        assert instructor_only not in readme, f"the student README names {instructor_only}"
    for part in ("Part 1", "Part 2", "Part 3"):
        assert f"## " in readme and part in readme


def test_every_path_the_student_readme_names_is_in_the_release(release, readme):
    named = named_paths(readme)
    assert {"assignment/load_vgg.py", "notebooks/", "part1_gatys.ipynb", "conf/demo_cpu.yml",
            "models/stained_glass_demo.npz"} <= named, "the path extractor missed the README's files"
    missing = sorted(p for p in named if not GENERATED.match(p) and not exists_in(release, p))
    assert missing == [], f"the student README names paths the release lacks: {missing}"


def test_every_nst_command_in_the_student_readme_parses(readme):
    from nst.cli import build_parser

    # Inline mentions (`nst plot-losses`) may leave out required arguments: their sub-command must exist.
    inline = [c + " --help" for c in inline_nst_commands(readme) if not re.search(r"\s-", c)]
    commands = [c for c in readme_commands(readme) if c.startswith("nst ")] + inline
    assert len(commands) >= 10
    for command in commands:
        try:
            build_parser().parse_args(shlex.split(command.replace("<run>", "RUN"))[1:])
        except SystemExit as e:
            if e.code == 0:  # --help
                continue
            pytest.fail(f"the student README's `{command}` does not parse")


def test_the_release_holds_every_file_the_grader_checks(release):
    """What graded runs read (tests/manifest.sha256: graded tests, helpers, tests/reference/*.npz)
    is in the release, byte for byte; without it the student's own pytest and grade would fail."""
    import hashlib

    from nst.grading.integrity import read_manifest

    expected = read_manifest(REPO)
    assert "tests/reference/arbitrary.npz" in expected
    missing = sorted(rel for rel in expected if not (release / rel).is_file())
    assert missing == [], f"the release lacks {missing}"
    changed = sorted(rel for rel, digest in expected.items()
                     if hashlib.sha256((release / rel).read_bytes()).hexdigest() != digest)
    assert changed == [], f"the release holds other bytes for {changed}"
    assert read_manifest(release) == expected


def test_the_part3_commands_of_the_student_readme_run(release, readme):
    """Each `nst arbitrary ...` command the README gives inline runs for real (at 48 px), once
    TODOs 1-3 are written (the solution copied in for the run, the stub put back after)."""
    from nst.arbitrary.published import fetch

    fetch()   # the README's `nst weights fetch magenta-arbitrary` (run by the slow test)
    commands = [c for c in inline_nst_commands(readme) if c.startswith("nst arbitrary ")]
    assert any(c.startswith("nst arbitrary stylize") for c in commands), commands
    stub = release / "assignment" / "arbitrary.py"
    saved = stub.read_bytes()
    shutil.copy(REPO / "solutions" / "arbitrary.py", stub)
    made = []
    try:
        for command in commands:
            done = subprocess.run(_argv(command, release), cwd=release, env=_env(release), capture_output=True,
                                  text=True, timeout=600)
            assert done.returncode == 0, f"`{command}` failed ({done.returncode}):\n{done.stderr[-3000:]}"
            made += [release / w for w in shlex.split(command) if GENERATED.match(w)]
        assert made and all(p.is_file() for p in made), made
        from nst.images import load_image

        image = load_image(made[0])
        assert max(image.shape[:2]) == 48 and image.std() > 10
    finally:
        stub.write_bytes(saved)
        for path in made:
            path.unlink(missing_ok=True)


def test_the_install_extras_bring_the_tests_and_jupyterlab(release):
    import tomllib

    extras = tomllib.loads((release / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    student = " ".join(extras["student"])
    assert "jupyterlab" in student and "nst[test]" in student
    assert any(dep.startswith("tensorflow[and-cuda]") and "linux" in dep for dep in extras["gpu"])


def _env(tree: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NST_IMPL", "PYTEST_"))}
    env["PYTHONPATH"] = str(tree)  # the release's own nst/, not this checkout's
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["COLUMNS"] = "80"
    return env


def _argv(command: str, tree: Path) -> list[str]:
    words = shlex.split(command)
    if "<run>" in command:
        runs = sorted((p for p in (tree / "outputs").iterdir() if (p / "final.png").is_file()),
                      key=lambda p: p.stat().st_mtime)
        words = [w.replace("outputs/<run>", str(runs[-1].relative_to(tree))) for w in words]
    for prefix, extra in TINY.items():
        if command.startswith(prefix):
            words += extra
    if words[0] == "python":
        words[0] = sys.executable
    return words


@pytest.mark.slow
def test_a_student_follows_the_readme_in_the_unpacked_release(release, readme, shared_images):
    env = _env(release)
    env["NST_DATA_MIRROR"] = str(shared_images)  # fetch-classics copies instead of downloading
    commands = [c for c in readme_commands(readme) if not c.startswith(NOT_RUN)]
    first = commands.index("python -m pytest")
    timings = []

    def run(command: str, expect_ok: bool = True) -> subprocess.CompletedProcess:
        started = time.perf_counter()
        done = subprocess.run(_argv(command, release), cwd=release, env=env, capture_output=True, text=True,
                              timeout=900)
        timings.append((command, time.perf_counter() - started))
        if expect_ok:
            assert done.returncode == 0, f"`{command}` failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done

    stubs = run(commands[first], expect_ok=False)          # the first tests: every graded test fails
    assert stubs.returncode == 1, stubs.stdout[-2000:]
    out = stubs.stdout
    assert "TODOs not written yet" in out and "Traceback" not in out
    assert out.index("test_part1_graded.py") < out.index("test_fast_graded.py"), "part 1 must come first"
    todo_lines = [line for line in out.splitlines() if line.startswith("part 1 TODO")]
    assert todo_lines and todo_lines[0].startswith("part 1 TODO 1") and all(len(line) <= 80 for line in todo_lines)
    failures = out.count("\n___")
    assert len(out.splitlines()) < 12 * max(failures, 1), "more than a few lines per stub failure"

    stylize = run("nst stylize", expect_ok=False)           # before the TODOs: one clear line, no traceback
    assert stylize.returncode == 2 and "Traceback" not in stylize.stderr
    assert re.search(r"error: assignment/\w+\.py:\d+: TODO \d+", stylize.stderr), stylize.stderr
    assert not any((release / "outputs").glob("*/final.png"))

    for name in WRITTEN:                                     # the student writes parts 1 and 2
        shutil.copy(REPO / "solutions" / name, release / "assignment" / name)
    for command in commands[:first] + commands[first + 1:]:
        done = run(command)
        if command.startswith("nst grade") and "--part" not in command:
            assert "Part 1: 100/100" in done.stdout and "Part 2: 100/100" in done.stdout, done.stdout
            assert re.search(r"^Part 3: 0/100\b", done.stdout, re.M), done.stdout  # stubs ("not started": test_newcomer)
        if command.startswith("nst course submit"):
            with zipfile.ZipFile(release / "submission_part1.zip") as zf:
                names = zf.namelist()
            assert any(n.endswith("/loss_curves.png") for n in names), names
            assert not any("transformer_net" in n or "runs/models" in n for n in names), "--part 1 packs part 1 only"
        if command.startswith("nst stylize"):
            assert "TensorFlow" in done.stderr and "on CPU" in done.stderr, "say which devices it runs on"
            # TensorFlow's own start-up lines (our device line may say "oneDNN on/off": that is ours)
            assert "oneDNN custom operations" not in done.stderr and "absl::InitializeLog" not in done.stderr, \
                done.stderr

    # What the commands run above name as outputs must be there (inline mentions are not run).
    named = named_paths("\n".join(f"```bash\n{c}\n```" for c in commands))
    made = sorted(p for p in named if GENERATED.match(p) and not p.startswith(("photo", "painting", "out."))
                  and "notebook" not in p)  # the notebooks' runs: tests/test_notebooks.py
    assert "content/video/sample.mp4" in made
    missing = [p for p in made if not (release / p).exists()]
    assert missing == [], f"the README's commands did not make {missing}"
    print("\n".join(f"{seconds:7.1f} s  {command}" for command, seconds in timings))


# ------------------------------------------------------------------ every path any shipped file names
TOPS = ("assignment", "benchmarks", "conf", "content", "data", "docs", "models", "notebooks", "nst", "outputs",
        "solutions", "styles", "tests", "tools")
REPO_PATH = re.compile(r"(?<![\w./~$-])((?:%s)/[\w.*/-]*[\w*/])" % "|".join(TOPS))


def _made_later() -> re.Pattern:
    """Paths a shipped file may name that are made later, by a command or by the student: outputs, the sample
    video (`nst data sample-video`), the classic paintings (`nst data fetch-classics`), MS-COCO (downloaded)."""
    from nst.data import CLASSICS

    classics = "|".join(CLASSICS)
    return re.compile(rf"^(outputs(/.*)?|content/video/.*|styles/({classics})\.jpg|data/coco(/.*)?)$")


# (file prefix, path pattern, why): names that are not references for the reader
NOT_REFERENCES = [
    ("", r"^solutions/\w+\.py$", "the reference code, withheld on purpose (stub headers say what they come from)"),
    ("nst/grading/", r"^(tests/(hidden|planted)(/.*)?|data/weights/.*|solutions/.*)$",
     "the grader's own layout: folders it handles when present, the sandbox's paths"),
    ("nst/course/", r"^(solutions(/.*)?|tests/(hidden|planted)/?|nst/course/student_readme\.md)$",
     "the release builder: what it leaves out, and the file it ships as README.md"),
    ("benchmarks/", r"^content/tubingen\.jpg$", "a photo of the test image mirror the benchmarks read"),
    ("conf/mosaic.yml", r"^styles/mosaic\.jpg$", "'bring your own' (said on that line)"),
    ("nst/fast/zoo.py", r"^docs/images/part2_published_styles\.jpg$",
     "the contact sheet, printed by nst fast list only where it exists (the release has no docs/)"),
]


def test_every_path_any_shipped_file_names_is_in_the_release(release):
    """Issue 24: not only the README: every text file of the release (code, configs, notebooks, licences)
    names only paths the release holds (or that a command makes later, see _made_later)."""
    import glob

    made_later = _made_later()
    missing = []
    for path in sorted(p for p in release.rglob("*") if p.is_file()):
        rel = path.relative_to(release).as_posix()
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        for match in REPO_PATH.finditer(text):
            token = match.group(1).rstrip(".")
            if "<" in token or made_later.match(token) or glob.glob(str(release / token)):
                continue
            if any(rel.startswith(prefix) and re.match(pattern, token) for prefix, pattern, _ in NOT_REFERENCES):
                continue
            missing.append(f"{rel} names {token}")
    assert missing == [], "shipped files name paths the release lacks:\n" + "\n".join(sorted(set(missing)))
