"""The loop that drives a training task: resume, fit, checkpoints, final model.

One Keras "epoch" here is `eval_every` steps: validation, the learning-rate
schedule, best-weights tracking and TensorBoard's epoch scalars happen at its
end. A run resumed mid-epoch (after SIGTERM) first finishes that epoch, so
validations stay at the same steps as in an uninterrupted run, and the data
pipeline skips the batches already seen, so the batches are the same too.
"""

import dataclasses
import json
import math
import os
import time

import keras
import numpy as np

from keras_spgan.files import atomic_output, write_json
from keras_spgan.models.loading import MODEL_FILE, RUN_FILE, checkpoint_paths
from training import callbacks as cb
from training import task
from training.checkpoints import CheckpointManager
from training.config import ConfigError
from training.strategy import worker_info

BEST_WEIGHTS = "best.weights.h5"
SUMMARY_FILE = "summary.json"


@dataclasses.dataclass
class TrainResult:
    model: keras.Model
    model_dir: str
    steps: int
    resumed_from: int
    interrupted: bool
    val_psnr: float = None
    input_val_psnr: float = None
    best_val_psnr: float = None
    last_epoch_logs: dict = None  # training and validation metrics of the last epoch


def check_model_dir(model_dir, config, is_chief, data_dir=None):
    """Refuses a model dir that holds a different architecture; records ours, with the dataset
    folder `--data_dir` resolved to (a `builtin:` name's folder names its version)."""
    path = os.path.join(model_dir, RUN_FILE)
    wanted = json.loads(json.dumps(config.architecture()))  # as run.json holds it (tuples are lists there)
    if os.path.exists(path) and not checkpoint_paths(model_dir):
        # A run that failed before its first checkpoint holds nothing to resume or protect.
        with open(path) as f:
            saved = json.load(f)["architecture"]
        if saved != wanted and is_chief:
            os.remove(path)
    if os.path.exists(path):
        with open(path) as f:
            saved = json.load(f)["architecture"]
        for key in sorted(set(wanted) | set(saved)):  # a key only one side has (ema) differs too
            if saved.get(key) != wanted.get(key):
                raise ConfigError(
                    key,
                    f"{model_dir} holds a run with {key}={saved.get(key)!r}, but the flags ask for "
                    f"{wanted.get(key)!r}: "
                    "pass a new --model_dir, or the same flags to resume that run",
                )
    elif is_chief:
        os.makedirs(model_dir, exist_ok=True)
        write_json(path, {"architecture": wanted, "config": dataclasses.asdict(config), "data_dir": data_dir})


def _save_final(model, model_dir):
    final = os.path.join(model_dir, MODEL_FILE)
    with atomic_output(final, overwrite=True) as partial:  # keeps the .keras extension model.save wants
        model.save(partial)
    return final


def train(config, strategy, log=print):
    """Trains (or resumes) the run described by `config` under `strategy`.

    The dtype policy a run sets (--mixed_precision) is undone when it returns,
    so models built afterwards in the same process are float32 again."""
    previous = keras.mixed_precision.global_policy()
    try:
        return _train(config, strategy, log)
    finally:
        keras.mixed_precision.set_global_policy(previous)


def _train(config, strategy, log):
    config.validate()
    is_chief, task_name = worker_info()
    model_dir = config.resolved_model_dir()
    data = task.load_data(config)
    check_model_dir(model_dir, config, is_chief, data.data_dir)
    steps = task.total_steps(config, data)
    policy = task.set_precision(config)
    log(f"data: {data.data_dir} ({len(data.train_clips)} training clips, {data.num_windows} windows; "
        f"{len(data.val_clips)} validation clips)")
    log(f"strategy: {type(strategy).__name__} with {strategy.num_replicas_in_sync} replica(s) [{task_name}], "
        f"precision {policy}, global batch {config.batch_size}")

    manager = CheckpointManager(model_dir, keep=config.keep_checkpoints, is_chief=is_chief)
    latest = manager.latest()
    if latest and config.init_from:
        log(f"resuming from {latest[1]}; --init_from {config.init_from} applies only to a new run")
        config = dataclasses.replace(config, init_from=None)
    model = task.build_model(config, strategy, resume_from=latest[1] if latest else None)

    plateau = None
    if not config.is_gan and config.plateau_patience and config.lr_schedule == "plateau":
        plateau = cb.ResumablePlateau(
            monitor="loss", factor=config.plateau_factor, patience=config.plateau_patience,
            min_lr=config.min_lr, verbose=1,
        )
    averaged = cb.Averaged(model.optimizer) if config.ema else None
    best = cb.BestWeights(
        os.path.join(model_dir, BEST_WEIGHTS), patience=config.early_stopping_patience if config.is_gan else 0,
        restore=config.is_gan, is_chief=is_chief, averaged=averaged,
    )
    resumed_from = 0
    if latest:
        state = manager.restore(model, latest[1])
        resumed_from = state["step"]
        model.optimizer.learning_rate.assign(state["learning_rate"])
        best.set_state(state["best"])
        if plateau and state.get("plateau"):
            plateau.set_state(state["plateau"])
        log(f"resumed from step {resumed_from} ({latest[1]}), learning rate {state['learning_rate']:.3g}")
    start = cb.current_step(model)
    if start >= steps:
        log(f"already trained for {start} steps (target {steps}); pass a larger --steps to train further")
        return _finish(model, model_dir, best, averaged, is_chief, start, resumed_from, None, None, log)

    def state_fn():
        return {
            "learning_rate": float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)),
            "plateau": plateau.get_state() if plateau else None,
            "best": best.get_state(),
            "time": time.time(),
        }

    alignment = task.generator_of(model).alignment
    if alignment != "none":
        log(f"windows aligned onto their centre frames ({alignment}), in training and validation, as the model "
            "will be run")
    val = task.val_dataset(config, data, strategy, alignment)
    baseline = task.input_psnr(val) if val is not None else None
    if val is not None:
        # Not training.evaluate's protocol (every frame, whole, RGB output rounded to 8 bits):
        # say which numbers these are, so the two are not compared as if they were one.
        windows = sum(int(b.shape[0]) for b, _ in val)
        log(f"validation protocol: {windows} windows of the test split, centre crops of at most "
            f"{config.val_crop} px, PSNR on Y in float; blurry input {baseline:.2f} dB")
    if val is None:
        log("no validation clips (no test split): no validation PSNR, no early stopping, no best weights")
    checkpointer = cb.Checkpointer(manager, config.checkpoint_every, state_fn, log=log,
                                   agree=cb.any_worker(strategy), epoch_steps=config.eval_every)
    progress = cb.ProgressLog(steps, config.batch_size, baseline, log=log)
    callbacks = [cb.StopAtStep(steps), progress] + ([averaged] if averaged else [])
    cosine_until = steps if config.lr_schedule == "cosine" else None
    if config.warmup_steps or cosine_until:
        callbacks.insert(0, cb.LearningRateSchedule(config.learning_rate, config.warmup_steps, cosine_until,
                                                    config.min_lr))
    if is_chief:
        logs = os.path.join(model_dir, "logs")
        callbacks.append(cb.TensorBoard(logs, update_freq=min(25, config.eval_every)))
        if val is not None:
            callbacks.append(cb.ImageSummaries(logs, next(iter(val)), averaged=averaged))
    callbacks += [c for c in (plateau, best) if c is not None]
    callbacks.append(checkpointer)  # last: saves the state the others just updated

    epochs = math.ceil(steps / config.eval_every)
    first_epoch, into_epoch = divmod(start, config.eval_every)
    checkpointer.install_signal_handlers()
    interrupted = None
    try:
        if into_epoch:  # finish the epoch a signal interrupted
            _fit(model, config, data, strategy, start, val, callbacks,
                 steps_per_epoch=config.eval_every - into_epoch, epochs=first_epoch + 1, initial_epoch=first_epoch)
            first_epoch += 1
        if not model.stop_training and first_epoch < epochs:
            _fit(model, config, data, strategy, cb.current_step(model), val, callbacks,
                 steps_per_epoch=config.eval_every, epochs=epochs, initial_epoch=first_epoch)
    except cb.TrainingInterrupted as stop:
        interrupted = stop
    finally:
        checkpointer.uninstall_signal_handlers()
    step = cb.current_step(model)
    if interrupted:
        log(f"{interrupted}; run the same command again to resume from step {step}")
        return TrainResult(model, model_dir, step, resumed_from, True, input_val_psnr=baseline,
                           last_epoch_logs=progress.last_logs)
    result = _finish(model, model_dir, best, averaged, is_chief, step, resumed_from, val, baseline, log)
    result.last_epoch_logs = progress.last_logs
    return result


def _fit(model, config, data, strategy, start_step, val, callbacks, **epochs):
    model.fit(
        task.train_dataset(config, data, strategy, start_step, task.generator_of(model).alignment),
        validation_data=val,
        callbacks=callbacks,
        shuffle=False,  # the pipeline shuffles; Keras would only warn
        verbose=0,  # one progress display: cb.ProgressLog's (Keras' bar counts per fit call and epoch)
        **epochs,
    )


def _finish(model, model_dir, best, averaged, is_chief, step, resumed_from, val, baseline, log):
    if averaged:
        averaged.finalize()
        log(f"the weights are now their moving average (--ema {averaged.optimizer.ema_momentum})")
    best.set_model(model)  # unset when nothing was left to train (fit never ran)
    restored = best.restore_best()
    if restored is not None:
        log(f"restored the best weights (step {restored}, val PSNR {best.best:.2f} dB)")
    val_psnr = None
    if val is not None:
        val_psnr = float(model.evaluate(val, verbose=0, return_dict=True)["psnr"])
        log(f"validation PSNR {val_psnr:.2f} dB (blurry input {baseline:.2f} dB)")
    result = TrainResult(model, model_dir, step, resumed_from, False, val_psnr, baseline,
                         None if best.best_step is None else best.best)
    summary = {f.name: getattr(result, f.name) for f in dataclasses.fields(result) if f.name != "model"}
    # Per-variable sums: lets workers (and runs) be compared without loading models.
    summary["weights_digest"] = [float(np.sum(np.asarray(w, np.float64))) for w in model.weights]
    if is_chief:
        path = _save_final(model, model_dir)
        write_json(os.path.join(model_dir, SUMMARY_FILE), summary)
        log(f"saved {path}")
    else:  # other workers hold the same model; they only leave their summary
        write_json(os.path.join(model_dir, f"summary-{worker_info()[1].replace(':', '-')}.json"), summary)
    return result
