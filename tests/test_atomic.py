"""One atomic writer (nst/atomic.py): whole files or none, and a plain open()'s mode, for every writer."""
from __future__ import annotations

import os

import numpy as np
import pytest

from nst.atomic import atomic_path, write_atomic


def _mode(path) -> int:
    return os.stat(path).st_mode & 0o777


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield 0o644
    os.umask(old)


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path):
    path = write_atomic(tmp_path / "a.json", "old")
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert path.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_every_writer_gives_a_plain_open_mode_not_0600(tmp_path, umask_022):
    from nst.files import write_npz
    from nst.images import save_image
    from nst.weights import _save_cache

    written = [write_atomic(tmp_path / "t.txt", b"x"),
               save_image(np.zeros((4, 4, 3)), tmp_path / "i.png"),
               write_npz(tmp_path / "w.npz", {"a": np.zeros(2)})]
    _save_cache(tmp_path / "cache" / "vgg.npz", {"conv1_1": (np.zeros((3, 3, 3, 4), np.float32), np.zeros(4, np.float32))})
    written.append(tmp_path / "cache" / "vgg.npz")
    assert {p.name: _mode(p) for p in written} == {p.name: umask_022 for p in written}
    with np.load(tmp_path / "cache" / "vgg.npz") as data:
        assert sorted(data.files) == ["conv1_1/W", "conv1_1/b"]


def test_the_temp_file_has_the_target_suffix(tmp_path):
    with atomic_path(tmp_path / "clip.mp4") as tmp:
        assert tmp.suffix == ".mp4" and tmp.parent == tmp_path
        tmp.write_bytes(b"")
