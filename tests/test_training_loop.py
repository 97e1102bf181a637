"""training.loop in-process on the sample data with tiny models: resume is exact,
1 vs 2 replicas agree, SPGAN starts from an SPN, checkpoints and final files."""

import json
import os
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_spgan import SPGAN, SPN, load_generator
from tests.conftest import TINY_DISCRIMINATOR, TINY_SPN
from training import loop
from training.config import ConfigError, TrainConfig
from training.preset import load_trained

TINY = dict(
    spn_config=dict(TINY_SPN), batch_size=4, crop=32, val_crop=32, val_windows=8, eval_every=2,
    checkpoint_every=2, lr=1e-3,
)


def train(model_dir, strategy=None, seed=0, **overrides):
    keras.utils.set_random_seed(seed)
    config = TrainConfig(model_dir=str(model_dir), **{**TINY, **overrides})
    return loop.train(config, strategy or tf.distribute.get_strategy(), log=lambda *a: None)


def weights_of(model):
    return [np.array(w) for w in model.weights]


def assert_same_weights(a, b, atol):
    for x, y in zip(weights_of(a), weights_of(b), strict=True):
        np.testing.assert_allclose(x, y, atol=atol)


def test_fit_writes_checkpoints_model_and_summary(tmp_path):
    result = train(tmp_path, steps=5, keep_checkpoints=2)
    assert result.steps == 5 and not result.interrupted
    # Checkpoints at steps 2 and 4 (every 2 and each epoch end) and 5 (end); the last 2 kept.
    steps = sorted(int(n.split("-")[1]) for n in os.listdir(tmp_path / "checkpoints"))
    assert steps == [4, 5]
    state = json.loads((tmp_path / "checkpoints" / "ckpt-000000005" / "state.json").read_text())
    assert state["step"] == 5 and state["learning_rate"] == pytest.approx(1e-3)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["steps"] == 5 and summary["input_val_psnr"] > 20
    assert isinstance(keras.saving.load_model(tmp_path / "model.keras"), SPN)
    assert os.listdir(tmp_path / "logs")  # TensorBoard event files
    # run.json names the folder the default builtin:sample resolved to (its version is in the name)
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["config"]["data_dir"] is None and os.path.basename(run["data_dir"]).startswith("sample-v")
    assert os.path.isfile(os.path.join(run["data_dir"], "split.json"))
    # Nothing half-written is left behind.
    leftovers = [n for _, dirs, files in os.walk(tmp_path) for n in dirs + files if "partial" in n]
    assert leftovers == []


def test_resumed_run_equals_uninterrupted_run(tmp_path):
    straight = train(tmp_path / "straight", steps=6)
    train(tmp_path / "resumed", steps=3)  # stops mid-epoch (epochs are 2 steps)
    resumed = train(tmp_path / "resumed", steps=6)
    assert resumed.resumed_from == 3 and resumed.steps == 6
    # Same weights, optimizer state and data order: the same model.
    assert_same_weights(straight.model, resumed.model, atol=1e-5)
    assert int(resumed.model.optimizer.iterations) == 6


def test_schedule_state_survives_resume(tmp_path):
    train(tmp_path, steps=4, plateau_patience=1, lr=1e-3)
    first = json.loads((tmp_path / "checkpoints" / "ckpt-000000004" / "state.json").read_text())
    result = train(tmp_path, steps=6, plateau_patience=1, lr=1e-3)
    lr = float(result.model.optimizer.learning_rate.numpy())
    assert first["plateau"]["best"] is not None
    # The resumed run starts from the saved learning rate, whatever --lr says.
    assert lr <= first["learning_rate"] + 1e-12


def test_a_resumed_spgan_restores_the_learning_rate_of_both_optimizers(tmp_path):
    gan = dict(model="spgan", discriminator_config=dict(TINY_DISCRIMINATOR), early_stopping_patience=0)
    train(tmp_path, steps=2, lr=1e-3, **gan)
    # Another --lr: the saved rates win, the discriminator's too (its optimizer's variables are
    # in the checkpoint's weights file; state.json holds only model.optimizer's, the generator's).
    resumed = train(tmp_path, steps=3, lr=5e-4, **gan).model
    rates = [float(np.array(o.learning_rate)) for o in (resumed.g_optimizer, resumed.d_optimizer)]
    assert rates == pytest.approx([1e-3, 1e-3])


@pytest.mark.parametrize("model", ["spn", "spgan"])
def test_one_and_two_replicas_train_the_same(tmp_path, mirrored_strategy, model):
    # A tiny lr: Adam's first steps are ~lr * sign(gradient), and gradients
    # near zero flip sign with the summation order, so with lr 1e-3 two
    # correct runs differ by ~2e-3. BatchNorm's moving statistics and the
    # reported losses do not depend on lr and must agree closely.
    options = dict(steps=2, lr=1e-7)
    if model == "spgan":
        options.update(model="spgan", discriminator_config=dict(TINY_DISCRIMINATOR))
    one = train(tmp_path / "one", **options)
    two = train(tmp_path / "two", strategy=mirrored_strategy, **options)
    assert_same_weights(one.model, two.model, atol=2e-6)
    for name, value in one.last_epoch_logs.items():
        if name != "learning_rate":
            assert two.last_epoch_logs[name] == pytest.approx(value, rel=1e-4, abs=1e-5), name
    moving = [w for w in one.model.weights if "moving" in w.path]
    assert moving and max(float(np.abs(np.array(w) - 1).max()) for w in moving if "variance" in w.path) > 1e-3


def test_the_psnr_content_loss_trains_alike_on_one_and_two_replicas(tmp_path, mirrored_strategy):
    """--content_loss psnr: the loss is minus the windows' mean PSNR (dB), averaged over the
    global batch like the MSE, so two replicas train as one device does."""
    options = {"steps": 2, "lr": 1e-7, "content_loss": "psnr"}
    one = train(tmp_path / "one", **options)
    two = train(tmp_path / "two", strategy=mirrored_strategy, **options)
    assert_same_weights(one.model, two.model, atol=2e-6)
    assert -60 < one.last_epoch_logs["loss"] < -10  # dB, not an MSE
    assert two.last_epoch_logs["loss"] == pytest.approx(one.last_epoch_logs["loss"], rel=1e-4)
    with pytest.raises(ConfigError, match="--content_loss: psnr applies to --model spn only"):
        TrainConfig(model="spgan", content_loss="psnr").validate()


def test_spgan_starts_from_a_trained_spn(tmp_path):
    spn = train(tmp_path / "spn", steps=2)
    gan = train(
        tmp_path / "gan", model="spgan", init_from=str(tmp_path / "spn"), steps=4, lr=1e-5,
        discriminator_config=dict(TINY_DISCRIMINATOR), early_stopping_patience=1,
    )
    assert isinstance(gan.model, SPGAN)
    saved = keras.saving.load_model(tmp_path / "gan" / "model.keras")
    assert isinstance(saved, SPGAN)
    assert isinstance(load_generator(str(tmp_path / "gan")), SPN)
    # Started from the SPN's weights: after 4 steps at lr 1e-5 (Adam: at most
    # ~4e-5 per weight) they are close to them; a fresh init would differ by ~1e-2.
    pairs = zip(spn.model.trainable_weights, gan.model.generator.trainable_weights, strict=True)
    assert max(float(np.abs(np.array(a) - np.array(b)).max()) for a, b in pairs) < 1e-4
    # Early stopping keeps the best validation weights.
    summary = json.loads((tmp_path / "gan" / "summary.json").read_text())
    assert summary["best_val_psnr"] == pytest.approx(summary["val_psnr"], abs=1e-3)


def test_model_dir_with_another_architecture_is_refused(tmp_path):
    train(tmp_path, steps=1)
    with pytest.raises(ConfigError, match="--scales") as error:
        train(tmp_path, steps=2, scales=(1, 3))
    assert str(tmp_path) in str(error.value)
    with pytest.raises(ConfigError, match="--spn_config"):
        train(tmp_path, steps=2, spn_config={**TINY_SPN, "num_res_blocks": 2})


def test_a_run_that_failed_before_its_first_checkpoint_does_not_block_the_next(tmp_path):
    """Issue 15.6: run.json of a run with no checkpoint refused a new run with another architecture."""
    config = TrainConfig(model_dir=str(tmp_path), **TINY).validate()
    loop.check_model_dir(str(tmp_path), config, is_chief=True)  # a run.json, as a failed run leaves it
    assert not os.path.isdir(tmp_path / "checkpoints")
    result = train(tmp_path, steps=2, scales=(1, 3))
    assert result.steps == 2
    assert json.loads((tmp_path / "run.json").read_text())["architecture"]["scales"] == [1, 3]


def test_init_from_with_other_scales_is_refused(tmp_path):
    train(tmp_path / "spn", steps=1)
    with pytest.raises(ConfigError, match="--init_from.*scales 1,3,5.*1,3"):
        train(tmp_path / "gan", model="spgan", init_from=str(tmp_path / "spn"), scales=(1, 3), steps=1)


def test_init_from_a_conv_transpose_spn_starts_a_resize_one(tmp_path):
    """--spn_config '{"upsampling": "resize"}' with --init_from a ConvTranspose run: the weights
    are carried over (archs.spn.transfer_weights); any other size change is still refused."""
    spn = train(tmp_path / "spn", steps=2)
    resized = train(tmp_path / "resize", init_from=str(tmp_path / "spn"), steps=1, lr=1e-7,
                    spn_config={**TINY_SPN, "upsampling": "resize"})
    assert resized.model.upsampling == "resize"
    np.testing.assert_allclose(np.array(resized.model.get_layer("res1_a_conv").kernel),
                               np.array(spn.model.get_layer("res1_a_conv").kernel), atol=1e-5)
    kernel = np.array(spn.model.get_layer("up1_deconv").kernel)[::-1, ::-1].transpose(0, 1, 3, 2) / 4
    np.testing.assert_allclose(np.array(resized.model.get_layer("up1_conv").kernel), kernel, atol=1e-5)
    with pytest.raises(ConfigError, match="--spn_config"):
        train(tmp_path / "wider", init_from=str(tmp_path / "spn"), steps=1,
              spn_config={**TINY_SPN, "upsampling": "resize", "num_res_blocks": 2})


def test_ablation_trains_each_variant_and_prints_table_3(tmp_path):
    from training import ablation

    keras.utils.set_random_seed(0)
    base = TrainConfig(model_dir=str(tmp_path), steps=1, **TINY)
    printed = []
    result = ablation.run_ablation(base, [(1,), (1, 3)], tf.distribute.get_strategy(),
                                   outputs=[str(tmp_path / "table3.json")], log=printed.append)
    assert list(result["rows"]) == ["INPUT", "SPN(1)", "SPN(1-3)"]
    assert load_generator(str(tmp_path / "spn_1-3")).scales == (1, 3)
    saved = json.loads((tmp_path / "table3.json").read_text())
    assert saved["rows"]["SPN(1)"]["average"]["psnr"] == pytest.approx(result["rows"]["SPN(1)"]["average"]["psnr"])
    assert any("SPN(1-3)" in line and "PSNR" in line for line in printed)
    # A second run resumes: the variants are trained already.
    again = ablation.run_ablation(base, [(1,)], tf.distribute.get_strategy(), log=printed.append)
    assert again["rows"]["SPN(1)"] == result["rows"]["SPN(1)"]
    # Each variant is seeded on its own: trained alone (after other work), SPN(1-3) is the same.
    keras.utils.set_random_seed(99)
    alone = TrainConfig(model_dir=str(tmp_path / "alone"), steps=1, **TINY)
    ablation.run_ablation(alone, [(1, 3)], tf.distribute.get_strategy(), log=printed.append)
    assert_same_weights(load_generator(str(tmp_path / "alone" / "spn_1-3")),
                        load_generator(str(tmp_path / "spn_1-3")), atol=0)


def test_mixed_precision_trains_in_bfloat16_and_saves_a_float32_model(tmp_path):
    result = train(tmp_path / "bf16", steps=2, mixed_precision=True)
    convs = [layer for layer in result.model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert {layer.compute_dtype for layer in convs if layer.name != "head_conv"} == {"bfloat16"}
    assert {w.dtype for w in result.model.weights} == {"float32"}  # variables stay float32
    assert np.isfinite(result.last_epoch_logs["loss"])
    assert keras.mixed_precision.global_policy().name == "float32"  # the run's policy is undone
    saved = load_generator(str(tmp_path / "bf16"))
    assert {layer.compute_dtype for layer in saved.layers if isinstance(layer, keras.layers.Conv2D)} == {"float32"}
    assert_same_weights(saved, result.model, atol=0)


def test_a_kill_right_after_a_validation_step_resumes_exactly(tmp_path):
    """Issue 15.4: the checkpoint at a validation step holds the state after the validation's
    plateau / best-weights bookkeeping, so the learning-rate cut is not late after a resume."""
    import shutil

    options = dict(plateau_patience=1, lr=3e-3, eval_every=2, checkpoint_every=2, keep_checkpoints=10)
    straight = train(tmp_path / "straight", steps=8, **options)
    # A run killed just after step 4's checkpoint: copy it, then resume to step 8.
    killed = tmp_path / "killed" / "checkpoints"
    killed.mkdir(parents=True)
    shutil.copytree(tmp_path / "straight" / "checkpoints" / "ckpt-000000004", killed / "ckpt-000000004")
    shutil.copy(tmp_path / "straight" / "run.json", tmp_path / "killed" / "run.json")
    states = [json.loads((tmp_path / "straight" / "checkpoints" / f"ckpt-00000000{s}" / "state.json").read_text())
              for s in (2, 4, 6, 8)]
    assert len({s["learning_rate"] for s in states}) > 1  # the plateau did cut the learning rate
    resumed = train(tmp_path / "killed", steps=8, **options)
    assert resumed.resumed_from == 4
    assert float(resumed.model.optimizer.learning_rate.numpy()) == pytest.approx(
        float(straight.model.optimizer.learning_rate.numpy()))
    resumed_state = json.loads((tmp_path / "killed" / "checkpoints" / "ckpt-000000008" / "state.json").read_text())
    for key in ("learning_rate", "plateau"):
        assert resumed_state[key] == states[-1][key]
    assert_same_weights(straight.model, resumed.model, atol=1e-5)



def _bn_and_conv_weights(spn):
    layers = [layer for layer in spn.layers if layer.weights]
    bn = [np.array(w) for layer in layers if isinstance(layer, keras.layers.BatchNormalization) for w in layer.weights]
    other = [np.array(w) for layer in layers if not isinstance(layer, keras.layers.BatchNormalization)
             for w in layer.weights]
    return bn, other


def test_freeze_bn_fine_tunes_everything_but_the_batch_norm(tmp_path):
    start = train(tmp_path / "start", steps=2).model
    tuned = train(tmp_path / "tuned", init_from=str(tmp_path / "start"), freeze_bn=True, steps=3).model
    (bn_before, other_before), (bn_after, other_after) = _bn_and_conv_weights(start), _bn_and_conv_weights(tuned)
    assert bn_before and len(bn_before) == len(bn_after)
    for a, b in zip(bn_before, bn_after, strict=True):  # scale, offset and moving statistics as they were
        np.testing.assert_array_equal(a, b)
    assert max(float(np.abs(a - b).max()) for a, b in zip(other_before, other_after, strict=True)) > 1e-4
    # The frozen run resumes frozen, and --freeze_bn needs a trained network to start from.
    resumed = train(tmp_path / "tuned", init_from=str(tmp_path / "start"), freeze_bn=True, steps=5).model
    for a, b in zip(bn_before, _bn_and_conv_weights(resumed)[0], strict=True):
        np.testing.assert_array_equal(a, b)
    # While it runs (no model.keras yet), its checkpoints and best weights load for deblurring
    # and presets without warnings about the optimizer state (no BatchNormalization in it).
    os.remove(tmp_path / "tuned" / "model.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_generator(str(tmp_path / "tuned"))
        load_trained(str(tmp_path / "tuned"))
    with pytest.raises(ConfigError, match="--freeze_bn: needs --init_from"):
        train(tmp_path / "scratch", freeze_bn=True, steps=1)


def test_a_frozen_bn_ema_run_in_progress_deblurs_with_its_average(tmp_path):
    train(tmp_path / "start", steps=2)
    tuned = train(tmp_path / "tuned", init_from=str(tmp_path / "start"), freeze_bn=True, ema=0.5, steps=3).model
    os.remove(tmp_path / "tuned" / "model.keras")  # as while it runs: the newest checkpoint (step 3) is used
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = load_generator(str(tmp_path / "tuned"))
    assert_same_weights(loaded, tuned, atol=0)  # the average (the final model), BatchNormalization included


@pytest.mark.parametrize("model", ["spn", "spgan"])
def test_a_float16_ema_run_loads_as_its_average(tmp_path, monkeypatch, model):
    """On GPUs --mixed_precision is float16 with loss scaling: the optimizers are wrapped in a
    LossScaleOptimizer, whose state a plain Adam cannot read. Its checkpoints still load as the
    average (the float16 policy is forced here, on CPU, as a GPU run sets it)."""
    from training import task

    def float16(config):
        keras.mixed_precision.set_global_policy("mixed_float16")
        return "mixed_float16"

    gan = {"model": "spgan", "discriminator_config": dict(TINY_DISCRIMINATOR)} if model == "spgan" else {}
    monkeypatch.setattr(task, "set_precision", float16)
    try:
        run = train(tmp_path, mixed_precision=True, ema=0.5, lr=3e-3, steps=3, **gan)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert isinstance(run.model.optimizer, keras.optimizers.LossScaleOptimizer)
    averaging = run.model.optimizer.inner_optimizer
    assert int(averaging.iterations.numpy()) == 3  # no step was skipped as non-finite
    os.remove(tmp_path / "model.keras")  # as while it runs: the newest checkpoint (step 3) is used
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = load_generator(str(tmp_path))
    generator = getattr(run.model, "generator", run.model)
    for weight, average in zip(loaded.trainable_weights, averaging._model_variables_moving_average, strict=True):
        np.testing.assert_array_equal(np.asarray(weight), np.asarray(average))
    if model == "spn":  # (spgan ends on its best weights)
        assert_same_weights(loaded, generator, atol=0)


def _learning_rates_seen(tmp_path, model, **flags):
    """The learning rate of every optimizer at each step of a 3-step run resumed to 6 steps."""
    gan = {"model": "spgan", "discriminator_config": dict(TINY_DISCRIMINATOR)} if model == "spgan" else {}
    seen = []

    class Spy(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            optimizers = [self.model.g_optimizer, self.model.d_optimizer] if model == "spgan" else [self.model.optimizer]
            seen.append([float(np.array(o.learning_rate)) for o in optimizers])

    original = loop._fit

    def fit_with_spy(model_, config, data, strategy, start_step, val, callbacks, **epochs):
        return original(model_, config, data, strategy, start_step, val, [*callbacks, Spy()], **epochs)

    loop._fit = fit_with_spy
    try:
        train(tmp_path, steps=3, early_stopping_patience=0, **flags, **gan)
        train(tmp_path, steps=6, early_stopping_patience=0, **flags, **gan)  # resumed at step 3
    finally:
        loop._fit = original
    return np.array(seen)


@pytest.mark.parametrize("model", ["spn", "spgan"])
def test_warmup_raises_the_learning_rate_linearly_and_resumes_where_it_was(tmp_path, model):
    seen = _learning_rates_seen(tmp_path, model, warmup_steps=4)
    expected = [1e-3 * min(step + 1, 4) / 4 for step in range(6)]
    np.testing.assert_allclose(seen, np.array([[lr] * seen.shape[1] for lr in expected]), rtol=1e-6)
    with pytest.raises(ConfigError, match="--warmup_steps"):
        train(tmp_path / "bad", warmup_steps=-1, steps=1)


@pytest.mark.parametrize("model", ["spn", "spgan"])
def test_cosine_schedule_falls_to_min_lr_at_the_last_step_and_resumes_where_it_was(tmp_path, model):
    # Warm-up over steps 0-1, then a half cosine from 1e-3 (step 2) to 1e-5 (step 6, the run's end),
    # decided by the step alone: the resumed run (steps 3-5) goes on along the same curve.
    seen = _learning_rates_seen(tmp_path, model, warmup_steps=2, lr_schedule="cosine", min_lr=1e-5)
    expected = [5e-4, 1e-3] + [1e-5 + (1e-3 - 1e-5) * 0.5 * (1 + np.cos(np.pi * (step - 2) / 4)) for step in (2, 3, 4, 5)]
    np.testing.assert_allclose(seen, np.array([[lr] * seen.shape[1] for lr in expected]), rtol=1e-6)
    assert seen[2, 0] > seen[3, 0] > seen[4, 0] > seen[5, 0] > 1e-5
    with pytest.raises(ConfigError, match="--min_lr"):
        train(tmp_path / "bad", lr_schedule="cosine", min_lr=1e-3, steps=1)
    with pytest.raises(ConfigError, match="--lr_schedule"):
        train(tmp_path / "bad", lr_schedule="linear", steps=1)


@pytest.mark.parametrize("model", ["spn", "spgan"])
def test_ema_validates_and_ends_with_the_average_and_resumes_exactly(tmp_path, model):
    from keras_spgan.models.loading import load_checkpoint_model, load_training_weights

    gan = {"model": "spgan", "discriminator_config": dict(TINY_DISCRIMINATOR), "early_stopping_patience": 0}
    options = dict(ema=0.5, lr=3e-3, **(gan if model == "spgan" else {}))
    straight = train(tmp_path / "straight", steps=6, **options)
    train(tmp_path / "resumed", steps=3, **options)  # stops mid-epoch: the resume calls fit twice
    resumed = train(tmp_path / "resumed", steps=6, **options)
    assert resumed.resumed_from == 3
    assert_same_weights(straight.model, resumed.model, atol=1e-6)

    # The final generator is the optimizer's average, not the last weights, which the last
    # checkpoint holds in the model's variables (and the average in the optimizer's).
    generator = getattr(straight.model, "generator", straight.model)
    averages = straight.model.optimizer._model_variables_moving_average
    for weight, average in zip(generator.trainable_weights, averages, strict=True):
        np.testing.assert_array_equal(np.asarray(weight), np.asarray(average))
    checkpoint = str(tmp_path / "straight" / "checkpoints" / "ckpt-000000006")
    with open(os.path.join(checkpoint, "architecture.json")) as f:
        last = keras.saving.deserialize_keras_object(json.load(f))
    load_training_weights(last, os.path.join(checkpoint, "model.weights.h5"))
    last = getattr(last, "generator", last)
    assert max(float(np.abs(np.asarray(a) - np.asarray(b)).max())
               for a, b in zip(last.trainable_weights, generator.trainable_weights, strict=True)) > 1e-4
    # Loaded as a model (deblur --model RUN while the run goes on), the checkpoint gives the average.
    loaded = load_checkpoint_model(checkpoint)
    assert_same_weights(getattr(loaded, "generator", loaded), generator, atol=0)
    if model == "spn":  # (spgan ends on its best weights) step 6 validated the average: the final model
        assert straight.last_epoch_logs["val_psnr"] == pytest.approx(straight.val_psnr, abs=1e-4)

    # Re-running the finished command changes nothing (it had crashed for spgan, with or without --ema).
    again = train(tmp_path / "straight", steps=6, **options)
    assert again.resumed_from == 6
    assert_same_weights(again.model, straight.model, atol=0)


def test_ema_is_part_of_the_run_and_validated(tmp_path):
    train(tmp_path, steps=2)
    with pytest.raises(ConfigError, match="--ema"):  # the checkpoints hold no averages
        train(tmp_path, steps=4, ema=0.99)
    with pytest.raises(ConfigError, match="--ema: must be in"):
        train(tmp_path / "bad", steps=1, ema=1.0)


def test_ema_on_two_replicas_trains_as_one_and_keeps_the_replicas_equal(tmp_path, mirrored_strategy):
    options = dict(steps=2, lr=1e-7, ema=0.5)  # step 2 ends an epoch: a validation swaps the average in and out
    one = train(tmp_path / "one", **options)
    two = train(tmp_path / "two", strategy=mirrored_strategy, **options)
    assert_same_weights(one.model, two.model, atol=2e-6)
    assert two.last_epoch_logs["val_psnr"] == pytest.approx(one.last_epoch_logs["val_psnr"], rel=1e-5)
    # The swaps (and the final copy of the average) reached every replica's copy of each weight.
    for weight in two.model.trainable_weights:
        copies = [np.asarray(v) for v in weight.value.values]
        assert len(copies) == 2 and all(np.array_equal(copies[0], c) for c in copies[1:]), weight.path


def test_image_summaries_show_what_the_average_restores(tmp_path):
    """Under --ema, TensorBoard's blurry | restored | sharp pictures show the moving average's
    output, as validation's numbers do, and the raw weights are back afterwards."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    from training import callbacks as cb

    keras.utils.set_random_seed(0)
    model = SPN(**TINY_SPN)
    blurry = tf.random.uniform((2, 5, 16, 16, 1), 0.2, 0.8, seed=1)
    model.compile(optimizer=keras.optimizers.Adam(use_ema=True), loss="mse")
    model.optimizer.build(model.trainable_variables)
    raw = [np.array(w) for w in model.trainable_variables]
    for average, weight in zip(model.optimizer._model_variables_moving_average, raw, strict=True):
        average.assign(weight + np.random.default_rng(len(average.path)).normal(0, 0.05, weight.shape))
    summaries = cb.ImageSummaries(str(tmp_path), (blurry, blurry[:, 2]), averaged=cb.Averaged(model.optimizer))
    summaries.set_model(model)
    raw_out = np.array(model(blurry, training=False))[..., 0]
    summaries.on_epoch_end(0)

    [name] = os.listdir(tmp_path / "images")
    [value] = [v for e in EventFileLoader(str(tmp_path / "images" / name)).Load() for v in e.summary.value]
    pictures = [tf.io.decode_png(png).numpy() for png in tf.make_ndarray(value.tensor)[2:]]
    restored = np.stack([p[:, 16:32, 0] for p in pictures]) / 255.0
    for weight, before in zip(model.trainable_variables, raw, strict=True):
        np.testing.assert_array_equal(np.array(weight), before)
    with summaries.averaged.swapped():
        average_out = np.clip(np.array(model(blurry, training=False))[..., 0], 0, 1)
    assert np.abs(restored - average_out).max() <= 1.01 / 255
    assert np.abs(restored - np.clip(raw_out, 0, 1)).max() > 4 / 255


def test_a_run_started_from_another_network_resumes_that_network(tmp_path):
    """--init_from a network whose config the flags do not repeat (a resize up-sampling, one
    residual block): the resumed run builds what its checkpoint holds, not the flags' default."""
    from keras_spgan import build_spn

    init = str(tmp_path / "init.keras")
    build_spn(**{**TINY_SPN, "num_res_blocks": 1}, upsampling="resize").save(init)
    flags = dict(spn_config={}, init_from=init)
    straight = train(tmp_path / "straight", steps=4, **flags)
    train(tmp_path / "resumed", steps=2, **flags)
    resumed = train(tmp_path / "resumed", steps=4, **flags)
    assert resumed.resumed_from == 2
    config = resumed.model.get_config()
    assert config["num_res_blocks"] == 1 and config["upsampling"] == "resize"
    assert_same_weights(straight.model, resumed.model, atol=1e-5)
