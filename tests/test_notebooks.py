"""Every notebook in notebooks/ runs top to bottom, so the handouts never rot.

Each runs in a fresh kernel with NST_NOTEBOOK_FAST=1 (tiny images, a few iterations) on the
reference code (NST_IMPL=solutions), writing its runs under a temp dir (NST_OUTPUTS). A notebook
must finish without an error in under 3 minutes and show at least one image inline.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT = 180
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _style_image(shared_images_dir: Path) -> str | None:
    """A style image for notebooks when styles/ is still empty (a fresh checkout before `make_styles`)."""
    if any((REPO / "styles").glob("*.jpg")) or any((REPO / "styles").glob("*.png")):
        return None
    candidate = shared_images_dir / "styles" / "starry_night.jpg"
    return str(candidate) if candidate.is_file() else None


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")

    monkeypatch.setenv("NST_NOTEBOOK_FAST", "1")
    monkeypatch.setenv("NST_IMPL", "solutions")
    monkeypatch.setenv("NST_OUTPUTS", str(tmp_path / "outputs"))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    if not os.environ.get("NST_STYLE"):
        shared = Path(os.environ.get("NST_SHARED_IMAGES") or REPO.parent / "shared" / "images")
        style = _style_image(shared)
        if style:
            monkeypatch.setenv("NST_STYLE", style)

    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as e:
        trace = ANSI.sub("", str(e))[-2500:]
        pytest.fail(f"{path.name}: a cell raised {e.ename}: {ANSI.sub('', e.evalue)}\n{trace}", pytrace=False)

    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.get("outputs", [])]
    errors = [out for out in outputs if out.get("output_type") == "error"]
    assert not errors, f"{path.name}: {errors[0].get('ename')}: {errors[0].get('evalue')}"
    pictures = [out for out in outputs if "image/png" in out.get("data", {})]
    assert pictures, f"{path.name} shows no image inline (a handout should show its images and curves)"
    if path.stem == "part1_gatys":  # its run is one that `nst course submit` accepts
        from nst.course.submit import missing_in_run

        run = tmp_path / "outputs" / "notebook-part1"
        assert run.is_dir() and missing_in_run(run) == [], f"{run}: {missing_in_run(run) if run.is_dir() else 'absent'}"
        import json

        assert json.loads((run / "settings.json").read_text())["smoke"] is True, \
            "a NST_NOTEBOOK_FAST run is a smoke run: `nst course submit` leaves it out when a real run exists"


def test_every_notebook_is_collected():
    """The runner above picks up any notebooks/*.ipynb; guard against an empty or unreadable folder."""
    nbformat = pytest.importorskip("nbformat")
    assert NOTEBOOKS, "notebooks/ holds no .ipynb"
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        assert any(cell.cell_type == "markdown" for cell in notebook.cells), f"{path.name} has no text"


@pytest.mark.parametrize("name", ["part1_gatys", "part2_fast"])
def test_notebooks_take_their_numbers_from_the_code(name):
    """No test machine's folders, no weights typed into the text that the code does not use."""
    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.read(REPO / "notebooks" / f"{name}.ipynb", as_version=4)
    text = "\n".join(cell.source for cell in notebook.cells)
    assert "../shared" not in text and '"shared"' not in text, "students have no ../shared"
    assert "0.05" not in text, "part 1's content weight comes from gatys.Config"
    if name == "part1_gatys":
        assert "run.content_weight" in text and "self.gstep" in text
    else:
        assert "TrainConfig(" in text and "nst data sample-video" in text
