"""Atomic training checkpoints: model + optimizers + loop state, keep the last N.

A checkpoint is `<model_dir>/checkpoints/ckpt-<step>/` with
  model.weights.h5    every weight of the training model and both optimizers'
                      state (Keras `save_weights` includes `model.optimizer`
                      and any other tracked optimizer, e.g. SPGAN's two),
  architecture.json   the model's Keras config, so evaluation and deblurring
                      can load a checkpoint of a run that has not finished,
  state.json          step, epoch, learning rate, callback state (written last).
It is written under a temporary name and renamed, so a run killed at any
moment leaves either the previous checkpoint or the new one, never half of
one. Only the chief writes (multi-worker: every worker holds the same values).
On a full disk the save fails before writing (the free space is checked against
the checkpoint's size) or cleanly (OutputError), and the previous checkpoint stays.
"""

import json
import os
import shutil

import keras
import numpy as np

from keras_spgan.files import atomic_output, require_free_space, save_weights

from keras_spgan.models.loading import (
    ARCH_FILE,
    CHECKPOINT_DIR,
    CHECKPOINT_PREFIX,
    STATE_FILE,
    WEIGHTS_FILE,
    checkpoint_paths,
)


class CheckpointManager:
    def __init__(self, model_dir, keep=3, is_chief=True):
        self.directory = os.path.join(model_dir, CHECKPOINT_DIR)
        self.model_dir = model_dir
        self.keep = keep
        self.is_chief = is_chief

    def latest(self):
        """(step, path) of the newest complete checkpoint, or None."""
        found = checkpoint_paths(self.model_dir)
        return found[-1] if found else None

    def save(self, model, step, state):
        if not self.is_chief:
            return None
        final = os.path.join(self.directory, f"{CHECKPOINT_PREFIX}{step:09d}")
        if os.path.isfile(os.path.join(final, STATE_FILE)):
            return final  # this step is saved already (e.g. periodic save, then exit)
        needed = checkpoint_bytes(model) * 5 // 4 + (64 << 10)
        require_free_space(self.directory, needed, f"checkpoint {step}")
        with atomic_output(final, overwrite=True) as partial:
            os.makedirs(partial)
            save_weights(model, os.path.join(partial, WEIGHTS_FILE), needed)
            with open(os.path.join(partial, ARCH_FILE), "w") as f:
                json.dump(keras.saving.serialize_keras_object(model), f)
            with open(os.path.join(partial, STATE_FILE), "w") as f:
                json.dump({**state, "step": step}, f, indent=1)
        self._prune()
        return final

    def restore(self, model, path):
        """Loads weights and optimizer state into `model`; returns the saved state."""
        model.load_weights(os.path.join(path, WEIGHTS_FILE))
        with open(os.path.join(path, STATE_FILE)) as f:
            return json.load(f)

    def _prune(self):
        for _, path in checkpoint_paths(self.model_dir)[: -self.keep]:
            shutil.rmtree(path, ignore_errors=True)
        # Leftovers of runs killed while writing.
        for name in os.listdir(self.directory):
            if ".partial-" in name:
                shutil.rmtree(os.path.join(self.directory, name), ignore_errors=True)


def checkpoint_bytes(model):
    """What a checkpoint of `model` takes on disk, about: its weights and every tracked
    optimizer's variables (HDF5 adds little)."""
    variables = {id(v): v for v in model.weights}
    for value in vars(model).values():
        if isinstance(value, keras.optimizers.Optimizer):
            variables.update({id(v): v for v in value.variables})
    return sum(int(np.prod(v.shape)) * _itemsize(v.dtype) for v in variables.values())


def _itemsize(dtype):
    try:
        return np.dtype(dtype).itemsize
    except TypeError:  # bfloat16 and friends
        return 4
