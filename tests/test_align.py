"""Flow alignment of windows (keras_spgan.align) and every path that applies it: the SPN's
config, deblurring (API and CLI), training's and validation's pipelines, fine-tuning."""

import os
import subprocess
import sys

import cv2
import keras
import numpy as np
import pytest

from keras_spgan import build_spn
from keras_spgan.align import align_window, align_windows
from keras_spgan.archs.spn import SPN
from keras_spgan.data import load_clips, training_dataset, validation_dataset
from keras_spgan.inference.runners import KerasRunner, Runner
from keras_spgan.inference.stream import deblur_frames
from tests.conftest import TINY_SPN

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MOTION = (3, 7)  # rows, columns per frame: a fast pan


def _scene(height, width, seed=0):
    """A textured photo-like scene: smoothed noise at two scales, uint8 RGB."""
    rng = np.random.default_rng(seed)
    coarse = cv2.GaussianBlur(rng.random((height, width, 3)).astype(np.float32), (0, 0), 6)
    fine = cv2.GaussianBlur(rng.random((height, width, 3)).astype(np.float32), (0, 0), 1.5)
    scene = 0.6 * (coarse - coarse.min()) / np.ptp(coarse) + 0.4 * (fine - fine.min()) / np.ptp(fine)
    return (scene * 255).astype(np.uint8)


def panned_frames(count, height=64, width=96, seed=0):
    """`count` crops of one scene, the camera moving MOTION pixels per frame."""
    scene = _scene(height + MOTION[0] * count, width + MOTION[1] * count, seed)
    return [scene[i * MOTION[0]: i * MOTION[0] + height, i * MOTION[1]: i * MOTION[1] + width] for i in range(count)]


def _inner_error(window, margin=24):
    """Mean absolute difference (levels) of each frame to the centre one, away from the borders."""
    window = np.asarray(window, np.float32)
    centre = window[window.shape[0] // 2]
    inner = (slice(margin, -margin), slice(margin, -margin))
    return [float(np.abs(frame[inner] - centre[inner]).mean()) for frame in window]


def test_a_panned_window_is_warped_onto_its_centre_frame():
    import keras_spgan

    assert keras_spgan.align_window is align_window  # public, as deblur_frames is
    window = np.stack(panned_frames(5))
    aligned = align_window(window)
    assert aligned.shape == window.shape and aligned.dtype == np.uint8
    np.testing.assert_array_equal(aligned[2], window[2])  # the centre is what the model restores: untouched
    before, after = _inner_error(window), _inner_error(aligned)
    assert min(before[:2] + before[3:]) > 10  # 7-15 px apart: the frames differ everywhere
    assert max(after) < 1.5, after  # aligned: the same scene at the same pixels


def test_float_luma_and_batches_align_like_uint8_rgb():
    window = np.stack(panned_frames(5))
    rgb = align_window(window).astype(np.float32) / 255
    floats = align_window(window.astype(np.float32) / 255)
    assert floats.dtype == np.float32
    assert np.abs(floats - rgb).max() < 2 / 255  # the same flow; uint8 rounds the warped values
    luma = cv2.cvtColor(window.reshape(-1, 96, 3), cv2.COLOR_RGB2GRAY).reshape(5, 64, 96, 1)
    assert max(_inner_error(align_window(luma))) < 1.5
    batch = align_windows(np.stack([window, window[::-1]]))
    np.testing.assert_array_equal(batch[0], align_window(window))
    np.testing.assert_array_equal(align_windows(window[None], "none")[0], window)


def test_none_replicated_ends_and_bad_arguments():
    window = np.stack(panned_frames(5))
    assert align_window(window, "none") is window
    ends = np.stack([window[0]] * 3 + [window[1]] * 2)  # the start of a video: the first frame replicated
    np.testing.assert_array_equal(align_window(ends)[:3], ends[:3])
    with pytest.raises(ValueError, match=r"alignment must be one of \('none', 'flow'\), got 'optical'"):
        align_window(window, "optical")
    with pytest.raises(ValueError, match=r"expects a window \(T, H, W, 1 or 3\), got shape \(64, 96, 3\)"):
        align_window(window[0])


def test_a_small_frame_does_not_change_how_later_windows_align():
    """OpenCV's DIS lowers its finest scale for good after a frame too small for it: a reused
    flow object aligned the tests' clips up to 54 levels otherwise after a 20x24 clip."""
    window = np.stack(panned_frames(5))
    before = align_window(window)
    align_window(np.stack(panned_frames(5, height=20, width=24)))
    np.testing.assert_array_equal(align_window(window), before)


def test_the_spn_carries_its_alignment_through_every_form(tmp_path):
    spn = build_spn(**TINY_SPN, alignment="flow")
    assert spn.get_config()["alignment"] == "flow"
    path = str(tmp_path / "spn.keras")
    spn.save(path)
    assert keras.saving.load_model(path).alignment == "flow"
    old = {k: v for k, v in spn.get_config().items() if k != "alignment"}  # a config from before the option
    assert SPN.from_config(old).alignment == "none"
    assert KerasRunner(spn).alignment == "flow"
    assert KerasRunner(spn, precision="bfloat16").alignment == "flow"
    with pytest.raises(ValueError, match="alignment must be one of"):
        build_spn(**TINY_SPN, alignment="yes")


class _Recorder(Runner):
    """Returns the centre frame and keeps every window it was given."""

    kind, source, num_frames, frame_size = "fake", "recorder", 5, None

    def __init__(self, alignment):
        self.alignment, self.windows = alignment, []

    def _run(self, windows):
        self.windows.extend(windows)
        return windows[:, 2]


@pytest.mark.parametrize("trained, asked, aligned", [("flow", None, True), ("none", None, False),
                                                     ("none", "flow", True), ("flow", "none", False)])
def test_deblurring_aligns_as_the_model_was_trained_unless_told(trained, asked, aligned):
    frames = panned_frames(7)
    runner = _Recorder(trained)
    out = list(deblur_frames(frames, runner, alignment=asked))
    assert len(out) == 7 and len(runner.windows) == 7
    errors = _inner_error(runner.windows[3] * 255)  # frames 1-5 around frame 3, all inside the video
    assert (max(errors) < 1.5) if aligned else (min(errors[:2] + errors[3:]) > 10)
    np.testing.assert_array_equal(out[3], frames[3])


def test_deblur_cli_alignment_flag(trained_tiny_spn, tmp_path):
    _, path = trained_tiny_spn
    in_dir = tmp_path / "in"
    in_dir.mkdir()
    frames = panned_frames(5)
    for i, frame in enumerate(frames):
        cv2.imwrite(str(in_dir / f"{i:03d}.png"), frame[..., ::-1])
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=REPO)
    outputs = {}
    for alignment in ("flow", "none"):
        out_dir = tmp_path / alignment
        result = subprocess.run([sys.executable, "-m", "keras_spgan.deblur", str(in_dir), str(out_dir), "--model",
                                 path, "--alignment", alignment, "--quiet"], capture_output=True, text=True,
                                timeout=300, env=env)
        assert result.returncode == 0, result.stderr[-3000:]
        assert ("aligned by optical flow" in result.stdout) == (alignment == "flow")
        outputs[alignment] = np.stack([cv2.imread(str(out_dir / f"{i:03d}.png")) for i in range(5)]).astype(int)
    assert np.abs(outputs["flow"] - outputs["none"]).max() >= 2  # the model saw other windows
    result = subprocess.run([sys.executable, "-m", "keras_spgan.deblur", str(in_dir), str(tmp_path / "x"),
                             "--alignment", "optical"], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 2 and "--alignment" in result.stderr and "'flow'" in result.stderr


@pytest.fixture
def panned_clips(tmp_path):
    """Two DVD-layout clips of fast pans (the sharp frames are the frames themselves)."""
    for index, video in enumerate(("pan_a", "pan_b")):
        for sub in ("input", "GT"):
            folder = tmp_path / "quantitative_datasets" / video / sub
            folder.mkdir(parents=True)
            for i, frame in enumerate(panned_frames(7, seed=index)):
                cv2.imwrite(str(folder / f"{i:05d}.png"), frame[..., ::-1])
    return load_clips(str(tmp_path), "dvd", "all")


def _crop_errors(blurry, margin):
    """Per-window mean absolute difference (levels) of the neighbours to the centre, inside."""
    windows = np.asarray(blurry) * 255
    return [np.mean(_inner_error(w, margin)[:2] + _inner_error(w, margin)[3:]) for w in windows]


def test_training_and_validation_windows_are_aligned_on_whole_frames(panned_clips):
    def first(alignment, cache=None):
        data = training_dataset(panned_clips, 5, batch_size=6, crop=48, channels="rgb", augment=False, seed=3,
                                repeat=False, cache=cache, alignment=alignment)
        return next(iter(data))

    (plain, target), (aligned, aligned_target) = first("none"), first("flow")
    np.testing.assert_array_equal(target, aligned_target)
    np.testing.assert_array_equal(aligned[:, 2], plain[:, 2])  # the same crops; the centre frames untouched
    assert min(_crop_errors(plain, 8)) > 10
    # Aligned on whole frames before the crop, the neighbours hold the centre's content up to the
    # crop's edges; a crop aligned on its own lacks what moved in from outside it.
    whole = _crop_errors(aligned, 2)
    alone = _crop_errors(align_windows(np.round(np.asarray(plain) * 255).astype(np.uint8)).astype(np.float32) / 255, 2)
    assert np.mean(whole) < 2.5 and max(whole) < 6, whole
    assert all(w < a for w, a in zip(whole, alone)) and np.mean(alone) > 3 * np.mean(whole), (whole, alone)
    cached, _ = first("flow", cache="")
    assert np.mean(_crop_errors(cached, 2)) < 2.5
    val = next(iter(validation_dataset(panned_clips, 5, max_windows=4, crop=48, channels="rgb", batch_size=4,
                                       alignment="flow")))[0]
    val_plain = next(iter(validation_dataset(panned_clips, 5, max_windows=4, crop=48, channels="rgb",
                                             batch_size=4)))[0]
    # Centre crops of windows inside the clips (the outer two replicate an end frame).
    assert max(_crop_errors(val[1:3], 2)) < 2.5 < 10 < min(_crop_errors(val_plain[1:3], 8))
    with pytest.raises(ValueError, match="alignment must be one of"):
        training_dataset(panned_clips, 5, alignment="dis")


def test_flow_errors_misplace_parts_of_some_neighbours_reproducibly():
    from keras_spgan.align import FLOW_ERROR_SHIFT_PX, flow_error_field

    window = np.stack(panned_frames(5, height=96, width=128))
    clean = align_window(window)
    field = flow_error_field((96, 128), np.random.default_rng(0))
    magnitude = np.hypot(field[..., 0], field[..., 1])
    assert field.dtype == np.float32 and magnitude.max() <= FLOW_ERROR_SHIFT_PX[1] * 3 + 1e-3
    assert 0.005 < (magnitude > 1).mean() < 0.9  # local: blobs, not a shift of the whole frame
    noisy = align_window(window, flow_errors=1.0, rng=np.random.default_rng(4))
    np.testing.assert_array_equal(noisy[2], window[2])  # the centre, the target's frame, is never touched
    np.testing.assert_array_equal(noisy, align_window(window, flow_errors=1.0, rng=np.random.default_rng(4)))
    changed = [np.abs(n.astype(int) - c.astype(int)).max(-1) > 20 for n, c in zip(noisy, clean)]
    assert all(0.002 < m.mean() < 0.9 for i, m in enumerate(changed) if i != 2), [m.mean() for m in changed]
    # A share: over many windows, about that share of the neighbours are misplaced.
    hit = [not np.array_equal(n, c) for seed in range(12)
           for n, c in zip(align_window(window, flow_errors=0.5, rng=np.random.default_rng(seed)), clean)]
    assert 0.25 < np.mean(hit) * 5 / 4 < 0.75
    np.testing.assert_array_equal(align_window(window, flow_errors=0.0, rng=np.random.default_rng(1)), clean)
    with pytest.raises(ValueError, match=r"flow_errors must be in \[0, 1\], got 1.5"):
        align_window(window, flow_errors=1.5, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="flow_errors needs an rng"):
        align_window(window, flow_errors=0.5)


def test_training_windows_with_flow_errors(panned_clips):
    def first(**kwargs):
        data = training_dataset(panned_clips, 5, batch_size=6, crop=48, channels="rgb", augment=False, seed=3,
                                repeat=False, alignment="flow", **kwargs)
        return [np.asarray(t) for t in next(iter(data))]

    (clean, target), (noisy, noisy_target) = first(), first(flow_errors=1.0)
    np.testing.assert_array_equal(target, noisy_target)  # the same crops and targets
    np.testing.assert_array_equal(noisy[:, 2], clean[:, 2])
    assert np.mean(_crop_errors(noisy, 2)) > np.mean(_crop_errors(clean, 2)) + 1.0
    np.testing.assert_array_equal(noisy, first(flow_errors=1.0)[0])  # drawn from the seed: reproducible
    with pytest.raises(ValueError, match="flow_errors needs aligned windows"):
        training_dataset(panned_clips, 5, flow_errors=0.5)
    with pytest.raises(ValueError, match="flow_errors draws new errors for every window"):
        training_dataset(panned_clips, 5, alignment="flow", flow_errors=0.5, cache="")


def test_flow_errors_flag(trained_tiny_spn, panned_clips):
    from training.config import ConfigError, TrainConfig
    from training.task import TrainingData, train_dataset

    for value in (-0.1, 1.2):
        with pytest.raises(ConfigError, match=r"--flow_errors.*must be in \[0, 1\]"):
            TrainConfig(flow_errors=value).validate()
    with pytest.raises(ConfigError, match="--flow_errors.*cannot be used with --cache"):
        TrainConfig(flow_errors=0.5, cache=True).validate()
    config = TrainConfig(flow_errors=0.5, batch_size=2, crop=48, scales=(1, 3, 5))
    data = TrainingData("", panned_clips, [], 6)
    import tensorflow as tf

    with pytest.raises(ConfigError, match=r"--flow_errors.*needs a network fed aligned windows"):
        train_dataset(config, data, tf.distribute.get_strategy(), 0, alignment="none")
    blurry, _ = next(iter(train_dataset(config, data, tf.distribute.get_strategy(), 0, alignment="flow")))
    assert blurry.shape == (2, 5, 48, 48, 1)


def test_an_unaligned_network_starts_an_aligned_one(trained_tiny_spn):
    from training.config import TrainConfig
    from training.task import _generator

    _, path = trained_tiny_spn
    config = TrainConfig(init_from=path, spn_config={"alignment": "flow"}, scales=(1, 3, 5))
    spn = _generator(config)
    assert spn.alignment == "flow"
    source = keras.saving.load_model(path)
    for a, b in zip(spn.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_exports_and_evaluation_know_the_alignment(trained_tiny_spn, tmp_path):
    import json
    import types

    from export import onnx as onnx_export
    from keras_spgan.inference import load_runner
    from tests.data_trees import make_dvd
    from training import evaluate

    trained, _ = trained_tiny_spn
    spn = SPN.from_config({**trained.get_config(), "alignment": "flow"})
    spn.set_weights(trained.get_weights())
    path = str(tmp_path / "aligned.keras")
    spn.save(path)
    out = str(tmp_path / "aligned.onnx")
    notes = []
    onnx_export.export(path, out, parity_windows=1, log=notes.append)
    assert load_runner(out).alignment == "flow"  # read from aligned.onnx.json, the export's report
    assert any("client deblur --alignment flow" in str(n) for n in notes)
    os.remove(out + ".json")
    assert load_runner(out).alignment == "none"  # without its report, an export cannot tell

    root = tmp_path / "pans"
    for sub in ("input", "GT"):
        (root / "quantitative_datasets" / "pan" / sub).mkdir(parents=True)
        for i, frame in enumerate(panned_frames(5)):
            cv2.imwrite(str(root / "quantitative_datasets" / "pan" / sub / f"{i:05d}.png"), frame[..., ::-1])
    make_dvd(str(root), videos=("IMG_0030",), count=3, height=20, width=24)  # the test split's name

    def evaluated(alignment):
        flags = types.SimpleNamespace(model=[path], data_dir=str(root), data_format=None, split="all",
                                      metric_space="y", crop_border=0, frames="all", progress=False,
                                      self_ensemble=False, alignment=alignment, output=[str(tmp_path / "r.json")])
        assert evaluate.run(flags) == 0
        return json.loads((tmp_path / "r.json").read_text())

    as_trained, forced = evaluated(None), evaluated("none")
    assert as_trained["alignment"] == {"aligned": "flow"} and forced["alignment"] == {"aligned": "none"}
    assert as_trained["rows"]["aligned"]["pan"]["psnr"] != forced["rows"]["aligned"]["pan"]["psnr"]


@pytest.mark.parametrize("command", [["evaluate", "--model", "spn"], ["client", "deblur", "in", "out"],
                                     ["preset", "--measure", "spn"], ["deblur", "in", "out"]])
def test_every_alignment_flag_names_itself_and_its_choices(command, capsys):
    from keras_spgan import cli

    with pytest.raises(SystemExit) as exit_info:
        cli.main([*command, "--alignment", "optical"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "--alignment" in err and "'flow'" in err and "'none'" in err
