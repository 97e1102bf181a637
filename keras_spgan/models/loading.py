"""Load a trained generator from whatever training or the user hands us.

Accepted: a preset name or folder (`keras_spgan.presets`); a `.keras` file holding an SPN, an SPGAN (its generator is used) or
an RGBDeblurrer (its SPN is used); or a training model dir, which holds
`model.keras` once training finished and `checkpoints/ckpt-*/` while it runs
(the newest checkpoint is used when there is no `model.keras`; of a run trained with
`--ema`, the moving average it holds).
"""

import json
import os
import warnings

import keras

from keras_spgan.archs.rgb import RGBDeblurrer
from keras_spgan.archs.spn import SPN
from keras_spgan.errors import ModelLoadError  # noqa: F401  (raised here, and imported from here)
from keras_spgan.models.spgan import SPGAN

MODEL_FILE = "model.keras"
CHECKPOINT_DIR = "checkpoints"
CHECKPOINT_PREFIX = "ckpt-"
WEIGHTS_FILE = "model.weights.h5"
ARCH_FILE = "architecture.json"
STATE_FILE = "state.json"
RUN_FILE = "run.json"  # training.loop's record of the run's flags


def as_generator(model, source="model"):
    """The SPN inside `model` (SPN, SPGAN or RGBDeblurrer)."""
    if isinstance(model, SPGAN):
        model = model.generator
    if isinstance(model, RGBDeblurrer):
        model = model.spn
    if not isinstance(model, SPN):
        raise ModelLoadError(f"{source}: holds a {type(model).__name__}, not an SPN, SPGAN or RGBDeblurrer")
    return model


def split_checkpoint(path):
    """(run dir, step) of a checkpoint path RUN/checkpoints/ckpt-N; None for any other path."""
    run, marker, step = os.path.normpath(path).rpartition(f"{os.sep}{CHECKPOINT_DIR}{os.sep}{CHECKPOINT_PREFIX}")
    return (run, int(step)) if marker and step.isdigit() else None


def checkpoint_paths(model_dir):
    """Complete checkpoints in `model_dir`, oldest first, as (step, path)."""
    root = os.path.join(model_dir, CHECKPOINT_DIR)
    found = []
    if os.path.isdir(root):
        for name in os.listdir(root):
            path = os.path.join(root, name)
            step = name[len(CHECKPOINT_PREFIX) :]
            # A checkpoint is complete once renamed from its temporary name and
            # its state file exists (written last).
            if name.startswith(CHECKPOINT_PREFIX) and step.isdigit() and os.path.isfile(os.path.join(path, STATE_FILE)):
                found.append((int(step), path))
    return sorted(found)


def load_checkpoint_model(path):
    """The training model saved in one checkpoint directory, weights loaded. A checkpoint of a
    run with `--ema` gives its generator's moving average (what the run validates and ships)."""
    with open(os.path.join(path, ARCH_FILE)) as f:
        model = keras.saving.deserialize_keras_object(json.load(f))
    config = _run_config(path)
    if config.get("ema"):
        _load_average(model, os.path.join(path, WEIGHTS_FILE), config)
    else:
        load_training_weights(model, os.path.join(path, WEIGHTS_FILE))
    return model


def _run_config(checkpoint):
    """The flags recorded in run.json by the run `checkpoint` (RUN/checkpoints/ckpt-N) belongs to."""
    run = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(checkpoint))), RUN_FILE)
    try:
        with open(run) as f:
            return json.load(f).get("config") or {}
    except (OSError, ValueError):
        return {}


def _load_average(model, path, config):
    """Loads a `--ema` checkpoint into `model` and puts the generator's average in place of its
    weights. The average is optimizer state: it is read through optimizers built as training
    built them (the same trainable variables: BatchNormalization frozen under --freeze_bn)."""
    if config.get("freeze_bn"):
        freeze_batch_norm(model.generator if isinstance(model, SPGAN) else model)
    # A mixed-precision run on GPUs (float16) wrapped its optimizers in a LossScaleOptimizer,
    # whose state Adam alone cannot read; run.json does not say which precision ran.
    for loss_scaled in (False, True):
        averaging = _compile_as_trained(model, config["ema"], loss_scaled)
        load_training_weights(model, path)
        if int(averaging.iterations.numpy()):
            for variable, average in zip(averaging._trainable_variables,
                                         averaging._model_variables_moving_average, strict=True):
                variable.assign(average)
            return
    warnings.warn(f"{path}: no moving average could be read from this --ema checkpoint; "
                  "its raw weights are used", stacklevel=3)


def _compile_as_trained(model, ema, loss_scaled):
    """Compiles `model` with optimizers that track what training's did; returns the generator's
    averaging Adam (inside the LossScaleOptimizer when `loss_scaled`)."""
    def wrap(optimizer):
        return keras.optimizers.LossScaleOptimizer(optimizer) if loss_scaled else optimizer

    averaging = keras.optimizers.Adam(use_ema=True, ema_momentum=ema)
    if isinstance(model, SPGAN):
        model.compile(g_optimizer=wrap(averaging), d_optimizer=wrap(keras.optimizers.Adam()))
    else:
        model.compile(optimizer=wrap(averaging))
        model.optimizer.build(model.trainable_variables)
    return averaging


def freeze_batch_norm(model):
    """Every BatchNormalization under `model` in inference mode (Keras 3: a frozen BN layer
    normalizes with its moving statistics and updates nothing); how many were frozen. Training
    (--freeze_bn) and the loading of its checkpoints both need the same trainable variables."""
    frozen = 0
    for layer in getattr(model, "layers", []):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
            frozen += 1
        else:
            frozen += freeze_batch_norm(layer)
    return frozen


def load_training_weights(model, path):
    """`model.load_weights` for a training run's weights file (a checkpoint's, best.weights.h5).
    The file also holds the optimizers' state. A model rebuilt from the run's architecture
    gets its layers' weights; when its optimizer would track other variables than the run's
    did (a --freeze_bn run trains no BatchNormalization), Keras skips the optimizer's
    state with a UserWarning. Nothing that deblurs or measures needs that state: silenced."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        model.load_weights(path)


def load_model(path, compile=False):
    """The full model saved at `path` (`.keras` file, model dir or checkpoint dir),
    or the SPN of a preset (a shipped preset's name or a preset folder)."""
    from keras_spgan import presets

    if presets.is_preset(path):
        try:
            return presets.from_preset(path)
        except (OSError, KeyError, ValueError) as error:
            raise ModelLoadError(f"{path}: a broken preset: {error}") from error
    if not os.path.exists(path):
        names = ", ".join(presets.list_presets()) or "none in this install"
        raise ModelLoadError(f"{path}: no such file or directory, nor a preset name (presets: {names})")
    if os.path.isfile(path):
        if not path.endswith(".keras"):
            raise ModelLoadError(f"{path}: not a .keras file (or a training model dir)")
        try:
            return keras.saving.load_model(path, compile=compile)
        except Exception as error:  # keras raises many types for a bad archive
            raise ModelLoadError(f"{path}: cannot be loaded as a Keras model: {error}") from error
    if os.path.isfile(os.path.join(path, MODEL_FILE)):
        return load_model(os.path.join(path, MODEL_FILE), compile=compile)
    if os.path.isfile(os.path.join(path, ARCH_FILE)):
        return load_checkpoint_model(path)
    checkpoints = checkpoint_paths(path)
    if checkpoints:
        return load_checkpoint_model(checkpoints[-1][1])
    raise ModelLoadError(f"{path}: a directory without {MODEL_FILE} or {CHECKPOINT_DIR}/{CHECKPOINT_PREFIX}*")


def load_generator(path):
    """The SPN to deblur with, from a preset, a `.keras` file or a training model dir."""
    return as_generator(load_model(path), source=path)
