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


def _validation(max_clips=4):
    """The held-out windows fit_jax validates on, computed here with numpy alone."""
    data, _ = fit_jax.render_set(8, 2, max_clips, log=lambda *a, **k: None)
    blurry, sharp = (a.astype(np.float32) / 255.0 @ np.array([65.481, 128.553, 24.966], np.float32) / 255.0
                     + 16.0 / 255.0 for a in data["test"])
    index = np.clip(np.arange(10)[:, None] + np.arange(-2, 3)[None], 0, 9)
    return blurry[:, index].reshape(-1, 5, *blurry.shape[2:], 1), sharp.reshape(-1, *sharp.shape[2:], 1)


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
    (["--out", "x", "--steps", "1000", "--spn_config", "{}"], "--spn_config builds a new network"),
    (["--out", "x", "--steps", "1000", "--init_from", "none", "--spn_config", '{"alignment": "flow"}'],
     "takes them aligned by 'flow'"),
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
