"""Presets: the storage format, the names every --model flag takes, and the shipped weights."""

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

import keras_spgan as ks
from keras_spgan import presets
from keras_spgan.data import camera, stills
from tests.conftest import TINY_SPN

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Measured on the shipped presets with the clips below, asserted at about half (a margin for other
# CPUs' rounding). spn, stage 4: +1.37 dB at 10 px from a moving camera (stage 3: +1.09), +1.51 dB
# at 10 px from a still camera with shaken exposures (stage 3: +1.39), +0.37 dB on the unblurred
# clip; on a clean clip (no noise, no compression, blurred on gamma-encoded values as DVD / GoPro
# were) +1.25 dB at 10 px from a still camera with shaken exposures (stage 3: +0.71) and -0.06 dB
# at 3 px from a moving camera (stage 3: -1.19: it took clean texture for noise).
MIN_GAIN_DB = {"spn": 0.5}
MIN_STILL_CAMERA_GAIN_DB = {"spn": 0.7}
MIN_CLEAN_GAIN_DB = {"spn": (0.6, -0.5)}  # (10 px still camera, 3 px moving camera)


def _psnr(a, b):
    mse = np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)
    return 10 * np.log10(255.0**2 / mse)


def _tiny_preset(folder, trained_tiny_spn):
    spn, _ = trained_tiny_spn
    presets.save_preset(spn, str(folder), {"description": "tiny test preset"})
    return str(folder)


def test_a_preset_folder_round_trips_with_float16_weights(tmp_path, trained_tiny_spn):
    spn, _ = trained_tiny_spn
    folder = _tiny_preset(tmp_path / "tiny", trained_tiny_spn)
    assert sorted(os.listdir(folder)) == ["config.json", "metadata.json", "weights.h5"]
    loaded = ks.from_preset(folder)
    assert isinstance(loaded, ks.SPN) and loaded.get_config()["num_res_blocks"] == TINY_SPN["num_res_blocks"]
    for stored, original in zip(loaded.get_weights(), spn.get_weights()):
        assert stored.dtype == np.float32
        np.testing.assert_allclose(stored, original, rtol=1e-3, atol=1e-4)  # float16 storage
    window = np.random.default_rng(0).random((1, 5, 32, 40, 3)).astype("float32")
    reference = np.asarray(ks.build_rgb_deblurrer(spn)(window))
    restored = np.asarray(ks.from_preset(folder, rgb=True)(window))
    assert np.abs(restored - reference).max() < 2e-3
    assert presets.is_preset(folder) and not presets.is_preset(str(tmp_path))


def test_weights_of_another_architecture_are_refused(tmp_path, trained_tiny_spn):
    folder = _tiny_preset(tmp_path / "tiny", trained_tiny_spn)
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    config["config"]["num_res_blocks"] = 2
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f)
    with pytest.raises(ks.ModelLoadError, match="broken preset"):
        ks.load_generator(folder)


def test_unknown_names_list_the_presets():
    with pytest.raises(ks.PresetError, match="'nope': not a preset.*presets: .*spn"):
        ks.from_preset("nope")
    with pytest.raises(ks.ModelLoadError, match="nope: no such file or directory, nor a preset name.*spn"):
        ks.load_runner("nope")


def test_the_shipped_presets_are_listed_with_their_metadata():
    shipped = ks.list_presets()
    assert "spn" in shipped and all(shipped.values())
    assert ks.default_preset() in shipped
    for name in shipped:
        meta = presets.metadata(name)
        assert meta["name"] == name and meta["recipe"].startswith("python -m training.fit")
        held_out = meta["evaluation"]["held_out_photos"]
        assert held_out["rgb"]["model"]["psnr"] > held_out["rgb"]["input"]["psnr"]
        assert meta["storage"]["psnr_vs_float32_db"] > 50
        photos = {p["name"]: p for p in meta["training_data"]["photos"]}
        assert all(photos[n]["held_out"] for n in stills.HELD_OUT)
        assert all(p["licence"] for p in photos.values())


def _held_out_clip(blur, seed=0, size=(128, 192), jitter=0.0, clean=False):
    """A fresh clip (not one of the training set's) from a held-out photo; jitter 1: a still
    camera whose every exposure is shaken (camera.ClipParams.jitter); clean: no noise nor
    compression, sub-frames averaged on gamma-encoded values."""
    rng = np.random.default_rng(seed)
    params = camera.draw_params(rng, blur=blur)
    params.noise, params.compression, params.objects, params.jitter = 0.004, "jpeg:90", 0, jitter
    if clean:
        params.noise, params.compression, params.blur_space = 0.0, "none", "srgb"
    photo = stills.load(next(s for s in stills.BUNDLED if s.name == "coffee"))
    return camera.render_clip(photo, rng, params, num_frames=7, size=size)[:2]


@pytest.mark.parametrize("name", sorted(MIN_GAIN_DB))
def test_the_shipped_preset_restores_a_held_out_photo(name):
    blurry, sharp = _held_out_clip(blur=10.0)
    restored = list(ks.deblur_frames(blurry, name))
    assert len(restored) == len(blurry) and restored[0].shape == blurry[0].shape
    gains = [_psnr(r, s) - _psnr(b, s) for b, r, s in zip(blurry[2:-2], restored[2:-2], sharp[2:-2])]
    assert np.mean(gains) > MIN_GAIN_DB[name], gains


@pytest.mark.parametrize("name", sorted(MIN_STILL_CAMERA_GAIN_DB))
def test_the_shipped_preset_restores_a_still_camera_with_shaky_exposures(name):
    """Most real footage: the framing barely moves between frames, yet each exposure is shaken."""
    blurry, sharp = _held_out_clip(blur=10.0, seed=2, jitter=1.0)
    restored = list(ks.deblur_frames(blurry, name))
    gains = [_psnr(r, s) - _psnr(b, s) for b, r, s in zip(blurry[2:-2], restored[2:-2], sharp[2:-2])]
    assert np.mean(gains) > MIN_STILL_CAMERA_GAIN_DB[name], gains


@pytest.mark.parametrize("name", sorted(MIN_CLEAN_GAIN_DB))
def test_the_shipped_preset_keeps_clean_texture(name):
    """Clean footage keeps its fine texture in the target: it must not be taken for noise."""
    for (blur, jitter), least in zip(((10.0, 1.0), (3.0, 0.0)), MIN_CLEAN_GAIN_DB[name]):
        blurry, sharp = _held_out_clip(blur=blur, seed=2, jitter=jitter, clean=True)
        restored = list(ks.deblur_frames(blurry, name))
        gains = [_psnr(r, s) - _psnr(b, s) for b, r, s in zip(blurry[2:-2], restored[2:-2], sharp[2:-2])]
        assert np.mean(gains) > least, (blur, jitter, gains)


def test_the_default_preset_barely_touches_a_sharp_clip():
    blurry, sharp = _held_out_clip(blur=0.0, seed=1)
    restored = list(ks.deblur_frames(blurry))  # no model: the default preset
    change = np.mean([_psnr(r, s) - _psnr(b, s) for b, r, s in zip(blurry[2:-2], restored[2:-2], sharp[2:-2])])
    assert change > -0.3


def test_deblur_without_model_uses_the_default_preset(tmp_path):
    blurry, _ = _held_out_clip(blur=8.0, size=(64, 96))
    in_dir, out_dir = tmp_path / "in", tmp_path / "out"
    in_dir.mkdir()
    for i, frame in enumerate(blurry):
        cv2.imwrite(str(in_dir / f"{i:03d}.png"), frame[..., ::-1])
    result = subprocess.run([sys.executable, "-m", "keras_spgan.deblur", str(in_dir), str(out_dir), "--quiet"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(out_dir)) == sorted(os.listdir(in_dir))
    expected = list(ks.deblur_frames(blurry, ks.default_preset()))
    for i, frame in enumerate(expected):
        written = cv2.imread(str(out_dir / f"{i:03d}.png"))[..., ::-1]
        assert np.abs(written.astype(int) - frame.astype(int)).max() <= 1


def test_a_bad_preset_name_is_a_clear_error_in_deblur(tmp_path):
    in_dir = tmp_path / "in"
    in_dir.mkdir()
    cv2.imwrite(str(in_dir / "0.png"), np.zeros((16, 16, 3), np.uint8))
    result = subprocess.run([sys.executable, "-m", "keras_spgan.deblur", str(in_dir), str(tmp_path / "out"),
                             "--model", "spm"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2
    assert "error: --model: spm: no such file or directory, nor a preset name (presets: " in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


def test_every_model_flag_takes_a_preset_name(tmp_path):
    from export.common import load_spn
    from training.config import TrainConfig

    assert isinstance(load_spn("spn"), ks.SPN)  # export.saved_model / tflite / onnx --model
    TrainConfig(model="spgan", init_from="spn").validate()  # training.fit --init_from
    report = tmp_path / "table.json"
    result = subprocess.run([sys.executable, "-m", "training.evaluate", "--model", "input", "--model", "spn",
                             "--output", str(report), "--noprogress"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    rows = json.loads(report.read_text())["rows"]
    assert len(rows) == 2 and "spn" in rows


def test_the_presets_command_lists_them_with_their_gain(capsys):
    assert presets.main([]) == 0
    out = capsys.readouterr().out
    assert f"{ks.default_preset()} (default)" in out and "dB RGB PSNR on held-out photo clips" in out
