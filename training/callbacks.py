"""Callbacks the loop needs beyond Keras' own: resumable schedule state,
best-weights / early stopping on validation PSNR, step checkpoints with
graceful SIGTERM / Ctrl-C, image summaries, and overall progress.

Keras' ReduceLROnPlateau and EarlyStopping reset their state in
`on_train_begin` and keep it (and the best weights) only in memory, so a
resumed run would forget how long the loss has plateaued. The classes here
expose `get_state` / `set_state`, which the checkpoint stores.
"""

import contextlib
import math
import os
import signal
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from keras_spgan.files import atomic_output, save_weights


def current_step(model):
    return int(model.optimizer.iterations.numpy())


class LearningRateSchedule(keras.callbacks.Callback):
    """The learning rate as a function of the step alone, so a resumed run goes on where it was:
    it rises linearly from 0 to `learning_rate` over the first `warmup_steps` steps (of the
    run's whole count), then stays there, or with `cosine_until` falls along a half cosine to
    `min_lr` at that step (SGDR without restarts, BasicSR's CosineAnnealingLR) and stays there.
    Every optimizer the model has (SPGAN: the generator's and the discriminator's) follows."""

    def __init__(self, learning_rate, warmup_steps=0, cosine_until=None, min_lr=0.0):
        super().__init__()
        self.learning_rate = learning_rate
        self.warmup_steps = warmup_steps
        self.cosine_until = cosine_until
        self.min_lr = min_lr
        self.done = False

    def rate(self, step):
        if step < self.warmup_steps:
            return self.learning_rate * (step + 1) / self.warmup_steps
        if self.cosine_until is None:
            return self.learning_rate
        progress = min((step - self.warmup_steps) / max(self.cosine_until - self.warmup_steps, 1), 1.0)
        return self.min_lr + (self.learning_rate - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))

    def on_train_batch_begin(self, batch, logs=None):
        if self.done:  # a constant rate from here: no step count to read back from the device every batch
            return
        step = current_step(self.model)
        if self.cosine_until is None and step >= self.warmup_steps:
            self.done = True
            return
        for optimizer in _optimizers(self.model):
            optimizer.learning_rate.assign(self.rate(step))


def _optimizers(model):
    found = [getattr(model, name, None) for name in ("g_optimizer", "d_optimizer")]
    return [o for o in found if o is not None] or [model.optimizer]


class TrainingInterrupted(Exception):
    """Raised out of fit after the checkpoint was saved on SIGTERM / SIGINT (here, or on
    another worker of the same multi-worker run)."""

    def __init__(self, signum, step, elsewhere=False):
        where = " on another worker" if elsewhere else ""
        super().__init__(f"stopped by {signal.Signals(signum).name}{where} at step {step}")
        self.signum = signum
        self.step = step


def any_worker(strategy):
    """A function flag -> bool that is True on every worker as soon as one worker's flag is.

    Under MultiWorkerMirroredStrategy it is an all-reduce of one number, so every worker
    must call it at the same step (each does, after each step). Why: a scheduler may
    signal the workers at different moments, or only one of them; a worker that stopped
    alone would leave the others failing in the next step's all-reduce, unsaved."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return bool

    def agree(flag):
        flags = strategy.run(lambda: tf.constant(1.0 if flag else 0.0))
        return float(strategy.reduce(tf.distribute.ReduceOp.SUM, flags, axis=None)) > 0

    return agree


class ResumablePlateau(keras.callbacks.ReduceLROnPlateau):
    """ReduceLROnPlateau whose wait / best / cooldown survive a resume."""

    _restored = None

    def get_state(self):
        best = None if self.best is None else float(self.best)
        return {"wait": self.wait, "best": best, "cooldown_counter": self.cooldown_counter}

    def set_state(self, state):
        self._restored = state

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self._restored:
            self.wait = self._restored["wait"]
            self.best = self._restored["best"]
            self.cooldown_counter = self._restored["cooldown_counter"]


class BestWeights(keras.callbacks.Callback):
    """Tracks the best validation PSNR; saves those weights; optionally stops
    after `patience` epochs without improvement (the paper stops SPGAN when
    validation PSNR starts to fall) and restores the best weights at the end."""

    def __init__(self, path, monitor="val_psnr", patience=0, restore=False, is_chief=True, averaged=None):
        super().__init__()
        self.path, self.monitor, self.patience = path, monitor, patience
        self.restore, self.is_chief = restore, is_chief
        self.averaged = averaged  # an Averaged: validation measured the average, so save it
        self.best, self.best_step, self.wait = -np.inf, None, 0
        self.stopped_early = False

    def get_state(self):
        return {"best": float(self.best), "best_step": self.best_step, "wait": self.wait}

    def set_state(self, state):
        self.best, self.best_step, self.wait = state["best"], state["best_step"], state["wait"]

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            return
        if value > self.best:
            self.best, self.best_step, self.wait = float(value), current_step(self.model), 0
            if self.is_chief:
                with atomic_output(self.path, overwrite=True) as partial:  # keeps the .weights.h5 suffix
                    with self.averaged.swapped() if self.averaged else contextlib.nullcontext():
                        save_weights(self.model, partial)
            return
        self.wait += 1
        if self.patience and self.wait >= self.patience:
            print(f"\n{self.monitor} has not improved on {self.best:.3f} (step {self.best_step}) "
                  f"for {self.wait} validations: stopping")
            self.stopped_early = True
            self.model.stop_training = True

    def restore_best(self):
        if self.restore and self.best_step is not None and os.path.exists(self.path):
            self.model.load_weights(self.path)
            return self.best_step
        return None


class Averaged(keras.callbacks.Callback):
    """The generator's exponential moving average (`--ema`: Adam(use_ema=True), the average
    kept as optimizer variables, so checkpoints hold it) in place of its weights during
    validation, and wherever `swapped()` is used (saving best weights; `finalize` at the end).

    Keras' SwapEMAWeights swaps by arithmetic (a + b - b), which can leave the weights an ulp
    off; this copies, so that a run with validations resumes bit for bit."""

    def __init__(self, optimizer):
        super().__init__()
        optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # under a LossScaleOptimizer
        if not getattr(optimizer, "use_ema", False):
            raise ValueError("Averaged needs an optimizer built with use_ema=True")
        self.optimizer = optimizer
        self._saved = None

    def _pairs(self):
        return zip(self.optimizer._trainable_variables, self.optimizer._model_variables_moving_average)

    def swap_in(self):
        if self._saved is None:
            self._saved = [keras.ops.convert_to_numpy(var) for var, _ in self._pairs()]
            for var, average in self._pairs():
                var.assign(average)

    def swap_out(self):
        if self._saved is not None:
            for (var, _), value in zip(self._pairs(), self._saved):
                var.assign(value)
            self._saved = None

    @contextlib.contextmanager
    def swapped(self):
        swapped_here = self._saved is None
        self.swap_in()
        try:
            yield
        finally:
            if swapped_here:
                self.swap_out()

    def finalize(self):
        """The average becomes the weights (the end of a run)."""
        self.swap_in()
        self._saved = None

    def on_test_begin(self, logs=None):
        self.swap_in()

    def on_test_end(self, logs=None):
        self.swap_out()


class StopAtStep(keras.callbacks.Callback):
    def __init__(self, total):
        super().__init__()
        self.total = total

    def on_train_batch_end(self, batch, logs=None):
        if current_step(self.model) >= self.total:
            self.model.stop_training = True


class Checkpointer(keras.callbacks.Callback):
    """Saves every `every` steps, at each epoch end (after the schedule
    callbacks updated their state: list it last), and on SIGTERM / SIGINT,
    after which it raises TrainingInterrupted. A step that ends an epoch
    (`epoch_steps`) is saved only at the epoch end, after the validation,
    plateau and best-weights bookkeeping, so a resume from it is exact. A second Ctrl-C exits at once.
    `agree` (see `any_worker`) makes all workers stop at the same step when
    any of them is signalled."""

    def __init__(self, manager, every, state_fn, log=print, agree=bool, epoch_steps=None):
        super().__init__()
        self.manager, self.every, self.state_fn, self.log = manager, every, state_fn, log
        self.agree = agree
        self.epoch_steps = epoch_steps
        self.signum = None
        self._previous = {}

    def install_signal_handlers(self):
        for signum in (signal.SIGTERM, signal.SIGINT):
            self._previous[signum] = signal.signal(signum, self._on_signal)

    def uninstall_signal_handlers(self):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    def _on_signal(self, signum, frame):
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # second Ctrl-C: give up on the clean exit
        self.signum = signum

    def save(self):
        step = current_step(self.model)
        return step, self.manager.save(self.model, step, self.state_fn())

    def _stop_if_signalled(self):
        signalled = self.signum is not None
        if self.agree(signalled):
            step, path = self.save()
            if path:  # only the chief writes
                self.log(f"\nsaved checkpoint at step {step}: {path}")
            raise TrainingInterrupted(self.signum or signal.SIGTERM, step, elsewhere=not signalled)

    def on_train_batch_end(self, batch, logs=None):
        step = current_step(self.model)
        if self.epoch_steps and step % self.epoch_steps == 0:
            return  # the epoch ends here: save after validation and the schedule (on_epoch_end)
        self._stop_if_signalled()
        if step % self.every == 0:
            self.save()

    def on_epoch_end(self, epoch, logs=None):
        self.save()
        self._stop_if_signalled()


class TensorBoard(keras.callbacks.TensorBoard):
    """Keras' TensorBoard, with every epoch's scalars written whatever the step count.

    With `update_freq=N`, Keras records batch summaries under a global
    record_if(step % N == 0) that is still in force when the epoch ends, so an
    epoch ending on any other step silently lost its scalars (and every other
    summary written then, e.g. the images)."""

    def on_epoch_end(self, epoch, logs=None):
        with tf.summary.record_if(True):
            super().on_epoch_end(epoch, logs)


class ImageSummaries(keras.callbacks.Callback):
    """blurry centre | restored | sharp for a few fixed validation windows, per epoch; restored
    by the moving average under --ema (`averaged`), as validation measures it."""

    def __init__(self, log_dir, batch, max_images=3, averaged=None):
        super().__init__()
        self.blurry, self.sharp = (t[:max_images] for t in batch)
        self.writer = tf.summary.create_file_writer(os.path.join(log_dir, "images"))
        self.averaged = averaged

    def on_epoch_end(self, epoch, logs=None):
        # A direct call, not predict_on_batch: under MirroredStrategy that splits
        # a batch of 3 over 2 replicas and returned 6 rows here.
        with self.averaged.swapped() if self.averaged else contextlib.nullcontext():
            restored = self.model(self.blurry, training=False)
        centre = self.blurry[:, self.blurry.shape[1] // 2]
        grid = tf.concat([centre, tf.clip_by_value(tf.cast(restored, tf.float32), 0, 1), self.sharp], axis=2)
        with self.writer.as_default(), tf.summary.record_if(True):  # see TensorBoard above
            tf.summary.image("blurry | restored | sharp", grid, step=epoch + 1, max_outputs=len(grid))
        self.writer.flush()


class ProgressLog(keras.callbacks.Callback):
    """The run's one progress display: step, steps/s, samples/s, ETA and the loss, redrawn
    in place on a terminal (at most every `refresh` s), a plain line every `interval` s
    elsewhere (log files, pipes: no ANSI codes); a full line with validation at each epoch end."""

    def __init__(self, total_steps, batch_size, baseline=None, log=print, stream=None, interval=60.0, refresh=0.5):
        super().__init__()
        self.total, self.batch_size, self.baseline, self.log = total_steps, batch_size, baseline, log
        self.stream = stream or sys.stderr
        self.interval = refresh if self.stream.isatty() else interval
        self._start_time = self._start_step = None
        self._last_shown = 0.0
        self.last_logs = {}

    def on_train_begin(self, logs=None):
        if self._start_time is None:
            self._start_time, self._start_step = time.time(), current_step(self.model)
            self._last_shown = self._start_time

    def _status(self, step):
        elapsed = max(time.time() - self._start_time, 1e-9)
        rate = (step - self._start_step) / elapsed
        eta = (self.total - step) / rate if rate > 0 else float("inf")
        return (f"step {step}/{self.total} ({100 * step / self.total:.0f}%) | {rate:.2f} steps/s, "
                f"{rate * self.batch_size:.1f} samples/s | ETA {_duration(eta)}")

    def on_train_batch_end(self, batch, logs=None):
        now = time.time()
        if now - self._last_shown < self.interval:
            return
        self._last_shown = now
        line = self._status(current_step(self.model))
        if logs and "loss" in logs:
            line += f" | loss {float(logs['loss']):.4g}"
        if self.stream.isatty():
            self.stream.write("\r" + line)
            self.stream.flush()
        else:
            self.log(line)

    def on_epoch_end(self, epoch, logs=None):
        self.last_logs = {k: float(v) for k, v in (logs or {}).items()}
        line = self._status(current_step(self.model))
        if logs and "val_psnr" in logs:
            line += f" | val PSNR (Y, crops) {logs['val_psnr']:.2f} dB"
            if self.baseline is not None:
                line += f" (blurry input {self.baseline:.2f} dB)"
        lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        self.log(f"{chr(13) if self.stream.isatty() else ''}{line} | lr {lr:.2g}")


def _duration(seconds):
    if not np.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"
