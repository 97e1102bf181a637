"""training.fit_jax: the SPN trained on Keras' JAX backend, read back under TensorFlow.

The training runs in subprocesses (a process has one Keras backend); this one checks what they
wrote with TensorFlow, as training.preset and keras_spgan.from_preset will read it.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from training import fit_jax, preset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = '{"pyramid_filters": 4, "fusion_filters": 8, "num_res_blocks": 1}'
# Small enough for a CPU: 4 training clips (24 windows), the first 2 held-out ones for validation.
SMALL = ["--max_clips", "4", "--workers", "2", "--batch_size", "4", "--crop", "32", "--warmup_steps", "5",
         "--no-mixed_precision"]


def _fit_jax(*args):
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    result = subprocess.run([sys.executable, "-m", "training.fit_jax", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Stage 1: a tiny SPN from scratch, 30 steps; stage 2: from stage 1's result, steps from a budget."""
    pytest.importorskip("jax")
    first = str(tmp_path_factory.mktemp("fit_jax") / "stage1")
    second = os.path.join(os.path.dirname(first), "stage2")
    _fit_jax("--out", first, "--init_from", "none", "--spn_config", TINY, "--steps", "30", "--eval_every", "15",
             *SMALL)
    log = _fit_jax("--out", second, "--init_from", first, "--time_budget", "45", "--eval_every", "100000", *SMALL)
    return first, second, log


@pytest.fixture(scope="module")
def aligned_run(runs):
    """Stage 1's network fed flow-aligned windows: 12 steps from its result, --spn_config changing
    only the alignment."""
    first = runs[0]
    out = os.path.join(os.path.dirname(first), "aligned")
    _fit_jax("--out", out, "--init_from", first, "--spn_config", '{"alignment": "flow"}', "--steps", "12",
             "--eval_every", "6", "--keep_every", "4", *SMALL, "--ema", "0")  # the result: the raw weights
    return out


def _luma(rgb_uint8):
    return rgb_uint8.astype(np.float32) / 255.0 @ np.array([65.481, 128.553, 24.966], np.float32) / 255.0 + 16.0 / 255.0


def _validation(max_clips=4, alignment="none"):
    """The held-out windows fit_jax validates on, computed here with numpy (and OpenCV) alone: every
    frame's window, ends replicated, aligned as deblur aligns them (keras_spgan.align_window on RGB)."""
    from keras_spgan.align import align_window

    data, _ = fit_jax.render_set(8, 2, max_clips, log=lambda *a, **k: None)
    blurry, sharp = data["test"]
    index = np.clip(np.arange(10)[:, None] + np.arange(-2, 3)[None], 0, 9)
    windows = np.stack([align_window(clip[row], alignment) for clip in blurry for row in index])
    return _luma(windows)[..., None], _luma(sharp).reshape(-1, *sharp.shape[2:-1], 1)


def _mean_psnr(spn, windows, targets):
    restored = np.clip(np.asarray(spn.predict(windows, batch_size=10, verbose=0)), 0.0, 1.0)
    mse = np.mean((restored.astype(np.float64) - targets) ** 2, axis=(1, 2, 3))
    return float(np.mean(-10.0 * np.log10(np.maximum(mse, 1e-10))))


def test_tensorflow_measures_the_trained_weights_as_jax_did(runs):
    first, _, _ = runs
    record = fit_jax.read_run(first)
    assert [p["step"] for p in record["curve"]] == [0, 15, 30]
    assert record["curve"][-1]["psnr"] != record["curve"][0]["psnr"]  # it trained
    windows, targets = _validation()
    assert windows.shape[0] == 20
    import keras

    from keras_spgan import presets
    from keras_spgan.archs.spn import SPN

    with open(os.path.join(first, "config.json")) as f:
        spn = keras.saving.deserialize_keras_object(json.load(f))
    assert isinstance(spn, SPN) and spn.fusion_filters == 8
    # float16 storage and another backend's convolutions: equal to well under 0.05 dB
    for weights, key in (("weights-last.h5", "psnr"), ("weights.h5", "ema_psnr")):
        spn.set_weights(presets.read_weights(os.path.join(first, weights), spn))
        assert _mean_psnr(spn, windows, targets) == pytest.approx(record["curve"][-1][key], abs=0.05)
    centre_mse = np.mean((windows[:, 2] - targets) ** 2, axis=(1, 2, 3))
    assert np.mean(-10 * np.log10(centre_mse)) == pytest.approx(record["input_psnr"], abs=1e-3)


def test_an_aligned_network_trains_and_validates_on_aligned_windows(runs, aligned_run):
    import keras

    from keras_spgan import presets
    from keras_spgan.archs.spn import SPN  # noqa: F401 (registers the class)

    record = fit_jax.read_run(aligned_run)
    assert record["alignment"] == "flow"
    with open(os.path.join(aligned_run, "config.json")) as f:
        spn = keras.saving.deserialize_keras_object(json.load(f))
    assert spn.alignment == "flow" and spn.fusion_filters == 8  # stage 1's network, its alignment changed
    windows, targets = _validation(alignment="flow")
    plain, _ = _validation()
    assert np.array_equal(windows[:, 2], plain[:, 2]) and not np.allclose(windows, plain, atol=1e-3)
    # what TensorFlow measures on windows aligned as deblur aligns them is what JAX measured
    spn.set_weights(presets.read_weights(os.path.join(aligned_run, "weights.h5"), spn))
    assert _mean_psnr(spn, windows, targets) == pytest.approx(record["curve"][-1]["psnr"], abs=0.05)
    # snapshots of the average every --keep_every steps, not at the end (that is weights.h5)
    assert sorted(f for f in os.listdir(aligned_run) if f.startswith("weights-step")) == [
        "weights-step4.h5", "weights-step8.h5"]
    # the recipe line is a shell command that gives back this run's flags
    import shlex

    argv = shlex.split(record["command"])[4:]
    again = fit_jax.parse_args([a if a != aligned_run else aligned_run + "-again" for a in argv])
    assert again.spn_config == '{"alignment": "flow"}' and again.steps == 12 and again.init_from == runs[0]


@pytest.mark.parametrize("alignment", ["none", "flow"])
def test_the_device_holds_the_windows_deblur_would_see(alignment):
    """device_data's training windows and validation windows, against numpy and align_window on RGB
    (what deblur and training.fit's pipeline compute): a tiny network cannot tell them apart by PSNR."""
    pytest.importorskip("jax")
    from keras_spgan.align import align_window

    data, _ = fit_jax.render_set(8, 2, 2, log=lambda *a, **k: None, alignment=alignment)
    (blurry, sharp), (windows, targets) = fit_jax.device_data(data, 5, alignment)
    expected, expected_targets = _validation(2, alignment)
    np.testing.assert_allclose(np.asarray(windows), expected, atol=1e-5)
    np.testing.assert_allclose(np.asarray(targets), expected_targets, atol=1e-5)
    clips = data["train"][0]
    if alignment == "none":  # whole clips: sample_batch cuts the windows
        np.testing.assert_allclose(np.asarray(blurry), _luma(clips), atol=1e-5)
        np.testing.assert_allclose(np.asarray(sharp), _luma(data["train"][1]), atol=1e-5)
        return
    assert blurry.shape == (12, 5, 192, 256) and sharp.shape == (12, 1, 192, 256)  # 6 windows a clip
    train = fit_jax.device_data(data, 5, alignment, unaligned_share=0.3)[0]
    assert len(train) == 3 and np.array_equal(np.asarray(train[0]), np.asarray(blurry))
    np.testing.assert_allclose(np.asarray(train[2][7]), _luma(clips[1, 1:6]), atol=1e-5)  # as filmed
    np.testing.assert_allclose(np.asarray(blurry[7]), _luma(align_window(clips[1, 1:6])), atol=1e-5)
    np.testing.assert_allclose(np.asarray(sharp[7, 0]), _luma(data["train"][1][1, 3]), atol=1e-5)


def test_batches_pair_each_window_with_its_centre_frames_target():
    """Both layouts: clips (N, L) with a target per frame, aligned windows (N, 5) with one target."""
    jax = pytest.importorskip("jax")
    rng = np.random.default_rng(0)
    for blurry in (rng.random((3, 10, 16, 20), np.float32), rng.random((40, 5, 16, 20), np.float32)):
        sharp = blurry + 0.5 if blurry.shape[1] == 10 else blurry[:, 2:3] + 0.5
        frames, target = fit_jax.sample_batch(jax.random.PRNGKey(1), blurry, sharp, 5, 32, 12)
        assert frames.shape == (32, 5, 12, 12, 1) and target.shape == (32, 12, 12, 1)
        np.testing.assert_allclose(np.asarray(target), np.asarray(frames[:, 2]) + 0.5, atol=1e-6)
        assert not np.allclose(frames[:, 1], frames[:, 2])  # neighbours, not the centre repeated


def test_an_unaligned_share_of_the_batch_comes_as_filmed():
    jax = pytest.importorskip("jax")
    rng = np.random.default_rng(0)
    aligned = rng.random((40, 5, 16, 20), np.float32)
    filmed = aligned + 10.0  # told apart by value; the centre frame is the same in both
    filmed[:, 2] = aligned[:, 2]
    sharp = aligned[:, 2:3] + 0.5
    for share, low, high in ((0.0, 0, 0), (0.5, 16, 48)):
        frames, target = fit_jax.sample_batch(jax.random.PRNGKey(3), aligned, sharp, 5, 64, 12, filmed, share)
        np.testing.assert_allclose(np.asarray(target), np.asarray(frames[:, 2]) + 0.5, atol=1e-6)
        as_filmed = np.asarray(frames[:, 0, 0, 0, 0]) > 5.0
        assert low <= as_filmed.sum() <= high
        # a window is all aligned or all as filmed
        assert np.array_equal(np.asarray(frames[:, 4, 0, 0, 0]) > 5.0, as_filmed)


def test_the_aligned_set_holds_each_window_aligned_onto_its_centre():
    from keras_spgan.align import align_window

    data, digest = fit_jax.render_set(8, 2, 1, log=lambda *a, **k: None, alignment="flow")
    plain, plain_digest = fit_jax.render_set(8, 2, 1, log=lambda *a, **k: None)
    assert digest == plain_digest and "train_aligned" not in plain
    blurry = data["train"][0]
    assert data["train_aligned"].shape == (1, 6, 5, 192, 256, 3)  # the windows inside the clip
    assert data["test_aligned"].shape == (2, 10, 5, 192, 256, 3)  # one per frame, ends replicated
    np.testing.assert_array_equal(data["train_aligned"][0, 3], align_window(blurry[0, 3:8]))
    np.testing.assert_array_equal(data["test_aligned"][1, 0], align_window(data["test"][0][1, [0, 0, 0, 1, 2]]))
    # --flow_errors: the training windows' neighbours get local errors drawn from the clip's index,
    # the same on every render; the centres and the validation windows stay as aligned
    noisy, noisy_digest = fit_jax.render_set(8, 2, 1, log=lambda *a, **k: None, alignment="flow", flow_errors=1.0)
    again = fit_jax.render_set(8, 2, 1, log=lambda *a, **k: None, alignment="flow", flow_errors=1.0)[0]
    assert noisy_digest == digest
    np.testing.assert_array_equal(noisy["train_aligned"], again["train_aligned"])
    np.testing.assert_array_equal(noisy["test_aligned"], data["test_aligned"])
    np.testing.assert_array_equal(noisy["train_aligned"][:, :, 2], data["train_aligned"][:, :, 2])
    moved = np.abs(noisy["train_aligned"].astype(int) - data["train_aligned"].astype(int)).max(-1) > 20
    assert 0.002 < moved[:, :, [0, 1, 3, 4]].mean() < 0.5


def test_a_second_stage_starts_from_the_first_and_the_preset_records_both(runs):
    first, second, log = runs
    record = fit_jax.read_run(second)
    # --time_budget: the steps are fixed after the warm-up from the measured speed, and recorded
    assert "training to step" in log
    assert record["steps"] >= 120 and record["steps"] % 100 == 0
    assert f"--steps {record['steps']}" in record["command"] and "--time_budget" not in record["command"]
    # it started where stage 1 ended: its step-0 validation is stage 1's last average
    assert record["curve"][0]["psnr"] == pytest.approx(fit_jax.read_run(first)["curve"][-1]["ema_psnr"], abs=1e-4)
    training = preset.training_record(second)
    assert training["trainer"] == "training.fit_jax"
    assert training["started_from"]["run_dir"] == first
    assert training["total_steps"] == 30 + record["steps"]
    commands = preset.recipe(type("Args", (), {"run": second, "recipe": None})()).split(" && ")
    assert commands == [fit_jax.read_run(first)["command"], record["command"]]
    assert commands[0].startswith("KERAS_BACKEND=jax python -m training.fit_jax --out ")
    spn, source = preset.load_trained(second)
    assert source == os.path.join(second, "weights.h5") and spn.fusion_filters == 8


def test_a_cpu_fine_tune_of_a_gpu_run_records_and_recipes_every_stage(runs, tmp_path):
    first, second, _ = runs
    # training.fit's run folder, as it leaves it, warm-started from the GPU run (--init_from SECOND)
    checkpoint = tmp_path / "cpu" / "checkpoints" / "ckpt-000000800"
    checkpoint.mkdir(parents=True)
    (checkpoint / "state.json").write_text(json.dumps({"best": {"best_step": 500, "best": 28.0},
                                                       "learning_rate": 1e-6}))
    (tmp_path / "cpu" / "run.json").write_text(json.dumps({"config": {"model": "spn", "init_from": second}}))
    cpu = str(tmp_path / "cpu")
    gpu_steps = 30 + fit_jax.read_run(second)["steps"]
    record = preset.training_record(cpu)
    assert record["started_from"]["run_dir"] == second and record["started_from"]["steps"] == gpu_steps
    assert preset.steps_to_best(record) == gpu_steps + 500
    commands = preset.recipe(type("Args", (), {"run": cpu, "recipe": "mine.flags"})()).split(" && ")
    assert commands == [fit_jax.read_run(first)["command"], fit_jax.read_run(second)["command"],
                        "python -m training.fit --flagfile mine.flags"]


def test_the_rendered_set_does_not_depend_on_the_number_of_workers():
    one = fit_jax.render_set(8, 1, 2, log=lambda *a, **k: None)
    two = fit_jax.render_set(8, 2, 2, log=lambda *a, **k: None)
    assert one[1] == two[1]
    assert one[0]["train"][0].shape == (2, 10, 192, 256, 3) and one[0]["test"][0].shape == (2, 10, 192, 256, 3)


@pytest.mark.parametrize("args, message", [
    (["--out", "x", "--steps", "1000", "--loss", "l1"], "--loss must be one of"),
    (["--out", "x"], "give --steps or --time_budget"),
    (["--out", "x", "--steps", "1000", "--crop", "30"], "--crop must be a multiple of 4"),
    (["--out", "x", "--steps", "1000", "--stills_version", "1"], "--stills_version must be one of"),
    (["--out", "x", "--steps", "1000", "--ema", "1"], "--ema must be in [0, 1)"),
    (["--out", "x", "--steps", "300"], "must be more than --warmup_steps"),
    (["--out", "x", "--steps", "1000", "--init_from", "nowhere"], "--init_from nowhere: not a preset name"),
    (["--out", "x", "--steps", "1000", "--spn_config", '{"num_res_blocks": 2}'], "only \"alignment\" may change"),
    (["--out", "x", "--steps", "1000", "--spn_config", '{"alignment": "warp"}'], "\"alignment\" must be one of"),
    (["--out", "x", "--steps", "1000", "--spn_config", "{alignment: flow}"], "--spn_config is not JSON"),
    (["--out", "x", "--steps", "1000", "--spn_config", "[1]"], "--spn_config must be a JSON object"),
    (["--out", "x", "--steps", "1000", "--init_from", "spn_strong", "--unaligned_share", "1"],
     "--unaligned_share must be in [0, 1)"),
    (["--out", "x", "--steps", "1000", "--init_from", "spn", "--unaligned_share", "0.5"],
     "--unaligned_share needs a network that takes aligned windows"),
    (["--out", "x", "--steps", "1000", "--init_from", "spn_strong", "--flow_errors", "1.5"],
     "--flow_errors must be in [0, 1]"),
    (["--out", "x", "--steps", "1000", "--init_from", "spn", "--flow_errors", "0.5"],
     "--flow_errors needs a network that takes aligned windows"),
])
def test_bad_flags_are_named(args, message, capsys):
    with pytest.raises(SystemExit):
        fit_jax.parse_args(args)
    assert message in capsys.readouterr().err


def test_a_finished_run_is_not_overwritten(runs, capsys):
    first, _, _ = runs
    with pytest.raises(SystemExit):
        fit_jax.parse_args(["--out", first, "--steps", "1000"])
    assert "holds a finished run already" in capsys.readouterr().err


def test_the_budget_fits_the_steps_or_says_it_cannot():
    config = fit_jax.Config(out="x", time_budget=600, eval_every=1000, warmup_steps=300)
    # 300 s used, 540 left after the reserve of 30 s, 10 steps/s, 2 s a measurement
    total = fit_jax.steps_for_budget(config, 300, 10.0, 30.0, 2.0)
    assert total % 100 == 0 and 300 + 5000 < total <= 300 + 5400
    with pytest.raises(SystemExit, match="--time_budget 600: too short"):
        fit_jax.steps_for_budget(config, 300, 10.0, 560.0, 2.0)


def test_the_spn_builds_and_runs_without_tensorflow():
    """What the GPU machine has: JAX, no TensorFlow. Installed here, TensorFlow would load silently,
    so the test asks whether anything imported it."""
    pytest.importorskip("jax")
    code = ("import sys, numpy as np; import training.fit_jax; from keras_spgan import presets; "
            "from keras_spgan.archs.spn import SPN; from keras_spgan.archs.rgb import build_rgb_deblurrer; "
            "spn = SPN(pyramid_filters=4, fusion_filters=8, num_res_blocks=1, synchronized_bn=False); "
            "print(spn(np.zeros((1, 5, 8, 8, 1), 'float32')).shape, 'tensorflow' in sys.modules)")
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[-5:] == ["(1,", "8,", "8,", "1)", "False"], result.stdout


def test_it_refuses_another_backend(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    with pytest.raises(SystemExit, match="KERAS_BACKEND=jax"):
        fit_jax.main(["--out", "x", "--steps", "1000"])
