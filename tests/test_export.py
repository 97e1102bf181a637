"""export/: SavedModel (checked with saved_model_cli, TF Serving's C++ loader), TFLite in
four precisions (int8 without float convolutions), ONNX; parity thresholds; bad input."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import keras_spgan as ks
from export import common, parity, saved_model, tflite
from export import onnx as onnx_export
from keras_spgan.errors import ConfigError
from keras_spgan.inference.runners import KerasRunner, load_runner

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZE = (36, 52)  # not a multiple of 4: the exported graphs pad and crop inside


def quiet(*_):
    pass


@pytest.fixture(scope="module")
def trained(trained_tiny_spn):
    return trained_tiny_spn


def test_trained_fixture_is_not_the_identity(trained):
    spn, _ = trained
    windows = np.random.default_rng(0).random((1, 5, *SIZE, 3)).astype(np.float32)
    assert np.abs(KerasRunner(spn)(windows) - windows[:, 2]).mean() > 1e-3


# --- SavedModel -------------------------------------------------------------------------------


def saved_model_cli(*args):
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([cli, *args], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_saved_model_layout_signatures_and_the_cpp_loader(trained, tmp_path):
    spn, path = trained
    out = tmp_path / "models"
    target, report = saved_model.export(path, str(out), "deblur", log=quiet)
    assert target == str(out / "deblur" / "1")
    assert sorted(os.listdir(out / "deblur")) == ["1"]  # no temporary left beside it
    assert [row["export"] for row in report["parity"]] == [
        "saved_model:float", "saved_model:serving_default", "saved_model:luma"]
    assert report["parity"][0]["max_abs_diff"] < 1e-4
    with open(out / "deblur" / "1" / saved_model.REPORT_FILE) as f:
        assert json.load(f)["parity"] == report["parity"]
    # Each weight stored once (Keras' own export stores them twice: keras-team/keras#23553).
    import tensorflow as tf

    stored = tf.train.load_checkpoint(os.path.join(target, "variables", "variables"))
    shapes = [s for k, s in stored.get_variable_to_shape_map().items() if "OBJECT_GRAPH" not in k]
    assert sum(int(np.prod(s)) for s in shapes) == spn.count_params()

    shown = saved_model_cli("show", "--dir", target, "--all")
    for name in ("serving_default", "float", "luma"):  # what the README documents
        assert f"signature_def['{name}']" in shown
    assert "shape: (-1, 5, -1, -1, 3)" in shown and "DT_UINT8" in shown

    # serving_default through the C++ loader: uint8 in, uint8 out, any batch and size.
    frames = np.random.default_rng(1).integers(0, 256, (2, 5, *SIZE, 3)).astype(np.uint8)
    np.save(tmp_path / "frames.npy", frames)
    saved_model_cli("run", "--dir", target, "--tag_set", "serve", "--signature_def", "serving_default",
                    "--inputs", f"frames={tmp_path / 'frames.npy'}", "--outdir", str(tmp_path / "out"))
    served = np.load(tmp_path / "out" / "sharp.npy")
    assert served.dtype == np.uint8 and served.shape == (2, *SIZE, 3)
    expected = ks.build_rgb_deblurrer(spn, io_dtype="uint8")(frames)
    assert np.abs(served.astype(int) - np.asarray(expected).astype(int)).max() <= 1

    # A second export is the next version; load_runner serves the newest, as TF Serving does.
    target2, _ = saved_model.export(spn, str(out), "deblur", log=quiet)
    assert target2.endswith(os.path.join("deblur", "2"))
    runner = load_runner(str(out / "deblur"))
    assert runner.kind == "saved_model" and runner.source == target2
    windows = frames[:1].astype(np.float32) / 255.0
    np.testing.assert_allclose(runner(windows), KerasRunner(spn)(windows), atol=1e-4)


def test_saved_model_luma_signature_takes_y(trained, tmp_path):
    import tensorflow as tf

    spn, _ = trained
    target, _ = saved_model.export(spn, str(tmp_path), "deblur", version=3, log=quiet)
    loaded = tf.saved_model.load(target)
    y = np.random.default_rng(2).uniform(0.1, 0.9, (1, 5, *SIZE, 1)).astype(np.float32)
    assert loaded.signatures["luma"](frames=y)["sharp"].numpy().shape == (1, *SIZE, 1)
    # The SPN itself on a size that needs no padding.
    crop = y[:, :, :32, :48]
    np.testing.assert_allclose(loaded.signatures["luma"](frames=crop)["sharp"].numpy(), spn(crop), atol=1e-5)


def test_saved_model_cli_command_end_to_end(trained, tmp_path):
    _, path = trained
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=REPO)
    command = [sys.executable, "-m", "export.saved_model", "--model", path, "--out", str(tmp_path),
               "--name", "spn", "--version", "7", "--parity_windows", "2"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "saved_model:serving_default" in result.stdout and "ok" in result.stdout
    assert os.path.isfile(tmp_path / "spn" / "7" / "saved_model.pb")
    again = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 2 and "--out" in again.stderr and "already exists" in again.stderr


# --- TFLite -----------------------------------------------------------------------------------


@pytest.mark.parametrize("quantize", tflite.QUANTIZATIONS)
def test_tflite_round_trip_within_thresholds(trained, tmp_path, quantize):
    spn, path = trained
    out = str(tmp_path / f"spn_{quantize}.tflite")
    report = tflite.export(path, quantize, "48x64", out, calibration_windows=8, parity_windows=4, log=quiet)
    row = report["parity"][0]
    assert not row["failures"]
    limits = parity.THRESHOLDS[tflite.PRECISION[quantize]]
    if "max_abs_diff" in limits:
        assert row["max_abs_diff"] < limits["max_abs_diff"]
    else:
        assert row["psnr_vs_keras_db"] >= limits["min_psnr_vs_keras"]
        assert row["max_abs_diff"] > 0  # really quantized
    with open(f"{out}.json") as f:
        sidecar = json.load(f)
    assert sidecar["input"]["shape"] == [1, 5, 48, 64, 3] and sidecar["input"]["frames_per_window"] == 5
    assert sidecar["input"]["value_range"] == [0.0, 1.0] and sidecar["output"]["shape"] == [1, 48, 64, 3]
    assert "CONV_3D" not in sidecar["ops"]
    if quantize == "int8":  # float from the head on only (export/quantization.py)
        assert sidecar["integer_only"] is False and "CONV_2D(float32)" in sidecar["float_ops"]

    # On-device style: one window through LiteRT, as the README shows.
    runner = load_runner(out)
    assert runner.kind == "tflite" and runner.frame_size == (48, 64) and runner.num_frames == 5
    window = np.random.default_rng(3).random((1, 5, 48, 64, 3)).astype(np.float32)
    got, want = runner(window), KerasRunner(spn)(window)
    assert got.shape == (1, 48, 64, 3)
    assert parity.psnr_y(want[0], got[0]) > 35
    with pytest.raises(ValueError, match="64x48 frames only"):
        runner(np.zeros((1, 5, 40, 64, 3), np.float32))


def test_int8_is_integer_end_to_end_and_the_op_check_catches_conv3d(trained):
    spn, _ = trained
    calibration = [np.random.default_rng(i).random((5, 32, 32, 3)).astype(np.float32) for i in range(4)]
    folded = tflite.convert(spn, "int8", (32, 32), calibration, integer_only=True)
    assert tflite.float_compute_ops(folded) == []
    ops = dict(tflite.list_ops(folded))
    assert "CONV_2D" in ops and "TRANSPOSE_CONV" in ops
    # Without the rewrite the converter silently keeps every Conv3D in float: the check sees it.
    unfolded = tflite.convert(spn, "int8", (32, 32), calibration, fold=False, integer_only=True)
    assert "CONV_3D(float32)" in tflite.float_compute_ops(unfolded)


def test_representative_data_from_a_folder_of_frames_or_videos(trained, tmp_path):
    from export.windows import representative_windows
    from tests.data_trees import write_frames

    write_frames(str(tmp_path / "frames"), 3, height=20, width=30)
    windows = representative_windows(str(tmp_path / "frames"), 5, (24, 24), count=8)
    assert len(windows) == 3 and windows[0].shape == (5, 24, 24, 3)
    assert windows[0].dtype == np.float32 and windows[0].max() <= 1.0


# --- ONNX -------------------------------------------------------------------------------------


def test_onnx_round_trip(trained, tmp_path):
    spn, path = trained
    out = str(tmp_path / "spn.onnx")
    report = onnx_export.export(path, out, parity_windows=2, log=quiet)
    assert report["parity"][0]["max_abs_diff"] < 1e-4
    runner = load_runner(out)
    window = np.random.default_rng(4).random((2, 5, *SIZE, 3)).astype(np.float32)  # dynamic batch and size
    np.testing.assert_allclose(runner(window), KerasRunner(spn)(window), atol=1e-4)


# --- failures leave nothing behind ------------------------------------------------------------


def test_a_missed_threshold_fails_and_writes_nothing(trained, tmp_path, monkeypatch):
    spn, _ = trained
    monkeypatch.setitem(parity.THRESHOLDS, "float32", {"max_abs_diff": 0.0})  # nothing can pass
    out = tmp_path / "spn.tflite"
    with pytest.raises(parity.ParityError, match="max \\|export - keras\\|"):
        tflite.export(spn, "none", "32x32", str(out), parity_windows=1, log=quiet)
    with pytest.raises(parity.ParityError):
        saved_model.export(spn, str(tmp_path / "models"), "deblur", parity_windows=1, log=quiet)
    assert sorted(os.listdir(tmp_path)) == ["models"]
    assert os.listdir(tmp_path / "models" / "deblur") == []


def _discriminator_file(tmp_path):
    path = str(tmp_path / "disc.keras")
    ks.build_discriminator(groups=((4, 1),), dense_units=8).save(path)
    return path


@pytest.mark.parametrize(
    "kwargs, flag, message",
    [
        (dict(model="{tmp}/nothing.keras"), "model", "no such file"),
        (dict(model="{disc}"), "model", "not an SPN"),
        (dict(input_size="big"), "input_size", "HEIGHTxWIDTH"),
        (dict(input_size="2x64"), "input_size", "at least 4"),
        (dict(quantize="int4"), "quantize", "must be one of"),
        (dict(quantize="int8", representative_data="{tmp}/empty"), "representative_data", "no frames"),
        (dict(quantize="int8", representative_data="{tmp}/missing"), "representative_data", "no such directory"),
        (dict(out="{tmp}/exists.tflite"), "out", "already exists"),
        (dict(out="{tmp}/model.bin"), "out", "must be a .tflite file"),
    ],
)
def test_tflite_bad_input_names_the_flag(trained, tmp_path, kwargs, flag, message):
    _, path = trained
    os.makedirs(tmp_path / "empty")
    (tmp_path / "exists.tflite").write_bytes(b"old")
    args = dict(model=path, quantize="none", input_size="32x32", out="{tmp}/new.tflite")
    args.update(kwargs)
    args = {k: v.format(tmp=tmp_path, disc=_discriminator_file(tmp_path) if "{disc}" in v else "")
            for k, v in args.items()}
    with pytest.raises(ConfigError) as error:
        tflite.export(args["model"], args["quantize"], args["input_size"], args["out"],
                      args.get("representative_data"), calibration_windows=2, parity_windows=1, log=quiet)
    assert error.value.flag == flag and message in str(error.value)
    assert not os.path.exists(tmp_path / "new.tflite")
    assert (tmp_path / "exists.tflite").read_bytes() == b"old"


def test_saved_model_bad_input_names_the_flag(trained, tmp_path):
    spn, _ = trained
    for kwargs, flag in [
        (dict(name="a/b"), "name"),
        (dict(version=0), "version"),
        (dict(parity_windows=0), "parity_windows"),
    ]:
        args = {**dict(model=spn, out=str(tmp_path), name="deblur", log=quiet), **kwargs}
        with pytest.raises(ConfigError) as error:
            saved_model.export(**args)
        assert error.value.flag == flag
    os.makedirs(tmp_path / "deblur" / "4")
    with pytest.raises(ConfigError, match="already exists"):
        saved_model.export(spn, str(tmp_path), "deblur", version=4, log=quiet)
    with pytest.raises(ConfigError) as error:
        common.load_spn(str(tmp_path / "deblur"))
    assert error.value.flag == "model"


def test_evaluate_measures_exported_models_like_the_keras_one(trained, tmp_path):
    import types

    from tests.data_trees import make_dvd
    from training import evaluate

    spn, path = trained
    root = make_dvd(tmp_path / "dvd", videos=("IMG_0030",), count=3, height=20, width=24)
    saved, _ = saved_model.export(spn, str(tmp_path / "models"), "deblur", parity_windows=1, log=quiet)
    tflite.export(spn, "none", "20x24", str(tmp_path / "spn.tflite"), parity_windows=1, log=quiet)
    tflite.export(spn, "none", "32x32", str(tmp_path / "other.tflite"), parity_windows=1, log=quiet)

    def flags(models):
        return types.SimpleNamespace(model=models, data_dir=str(root), data_format=None, split="test",
                                     metric_space="y", crop_border=0, frames="all", output=[], progress=False,
                                     self_ensemble=False, alignment=None)

    out = tmp_path / "t.json"
    run = flags([path, saved, str(tmp_path / "spn.tflite")])
    run.output = [str(out)]
    assert evaluate.run(run) == 0
    rows = json.loads(out.read_text())["rows"]
    assert list(rows) == ["spn", "deblur-v1", "spn-2"]
    for name in ("deblur-v1", "spn-2"):
        assert rows[name]["IMG_0030"]["psnr"] == pytest.approx(rows["spn"]["IMG_0030"]["psnr"], abs=0.01)
    with pytest.raises(ConfigError, match="--model.*takes 32x32 frames only.*24x20"):
        evaluate.run(flags([str(tmp_path / "other.tflite")]))


def test_onnx_bad_input_names_the_flag(trained, tmp_path):
    spn, _ = trained
    (tmp_path / "old.onnx").write_bytes(b"old")
    cases = [(str(tmp_path / "m.bin"), "must be an .onnx file"), (str(tmp_path / "old.onnx"), "already exists")]
    for out, message in cases:
        with pytest.raises(ConfigError, match=message) as error:
            onnx_export.export(spn, out, parity_windows=1, log=quiet)
        assert error.value.flag == "out"
    with pytest.raises(ConfigError) as error:
        onnx_export.export(str(tmp_path / "none.keras"), str(tmp_path / "new.onnx"), log=quiet)
    assert error.value.flag == "model" and not os.path.exists(tmp_path / "new.onnx")
    assert (tmp_path / "old.onnx").read_bytes() == b"old"
