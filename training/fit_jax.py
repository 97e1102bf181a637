"""Train the SPN on one GPU with Keras' JAX backend: no TensorFlow, no files in between.

    KERAS_BACKEND=jax python -m training.fit_jax --init_from spn --time_budget 480 --out runs/jax/spn-j1

Why it exists: a GPU machine may carry JAX but not TensorFlow, and `training.fit` is
TensorFlow through and through (tf.data, tf.distribute). The SPN itself is plain Keras
(keras.ops), so the same model, config and preset weights train here, and what comes out is
a preset-format weights file that `keras_spgan.from_preset` and `training.preset` read under
TensorFlow.

What it does, in order:
1. Renders the presets' training set (`keras_spgan.data.training_set`, version 8 by
   default) in memory on every core: the same clips, byte for byte, as the cached PNG set,
   since each clip draws from its own seed. For a network that takes its windows aligned
   (its config's "alignment": "flow"), the same workers align every window of T frames onto
   its centre (`keras_spgan.align`, on the whole uint8 RGB frames, as training.fit's pipeline
   does before it crops): the training windows, and the held-out ones with replicated ends.
2. Puts the Y (BT.601 luma, what the SPN sees) of every blurry and sharp frame (or aligned
   window) on the GPU, and draws each batch there: random windows of T frames, the same random
   crop on the window and its target, random flips, transposition and time reversal (the
   dihedral and temporal augmentations of `keras_spgan.data.pipeline`). Nothing crosses the
   host per step.
3. Trains with Adam (Keras' betas and epsilon, via optax) along a linear warm-up and a half
   cosine to --min_lr, on the MSE (the paper's eq. 3) or the PSNR loss of
   `keras_spgan.losses`, with bfloat16 mixed precision by default, and an exponential moving
   average of the weights.
4. Every --eval_every steps, measures the mean Y PSNR of the raw and averaged weights on the
   set's held-out clips (every frame, full size, replicate-padded ends, as evaluation does).
5. Writes config.json and weights.h5 (the average at the last step: the folder is a preset
   folder, usable as `--model` and `--init_from` anywhere), weights-last.h5 (the raw weights)
   and weights-best.h5 (the best average seen), with --keep_every the average every N steps
   (weights-step{N}.h5, to choose by measurements the held-out clips cannot make), all in the
   presets' float16 format, and run.json (arguments, digest of the rendered set, alignment,
   steps, the validation curve, speed).

--time_budget: the whole run's seconds. Steps are then fixed after the warm-up, from the
speed measured there, so that training, evaluations and saving fit; run.json records the
number, and --steps N reproduces the schedule exactly.
"""

import argparse
import dataclasses
import hashlib
import json
import math
import multiprocessing
import os
import shlex
import sys
import time

import numpy as np

from keras_spgan import presets
from keras_spgan.align import ALIGNMENTS
from keras_spgan.data import training_set
from keras_spgan.files import write_json

LOSSES = ("mse", "psnr")
RUN_FILE = "run.json"
# A run's result is the moving average at its last step, under the presets' file names: the run
# folder is a preset folder, so it works as `--model`, `--init_from` and `training.average` input
# as it is. weights-last.h5 holds the raw weights, weights-best.h5 the best average seen on the
# held-out clips (kept for a run that ended worse than it was).
CONFIG_FILE = presets.CONFIG_FILE
RESULT_FILE = presets.WEIGHTS_FILE


def is_run(folder):
    """True for a folder this trainer wrote (its result, config and run.json)."""
    if not (isinstance(folder, str) and all(
            os.path.isfile(os.path.join(folder, f)) for f in (RUN_FILE, CONFIG_FILE, RESULT_FILE))):
        return False
    return read_run(folder).get("trainer") == "training.fit_jax"


def read_run(folder):
    with open(os.path.join(folder, RUN_FILE)) as f:
        return json.load(f)


def command(config):
    """The command line that reruns a run of `config` (a dict of Config's fields) step for step."""
    flags = [f"--out {config['out']}"]
    for key, value in config.items():
        if key in ("out", "time_budget", "workers") or (key in ("max_clips", "spn_config") and not value):
            continue  # --steps replaces the budget; workers do not change the set; every other flag is
            # written out, so that a change of defaults does not change the recipe
        if isinstance(value, bool):
            flags.append(f"--{key}" if value else f"--no-{key}")
        else:
            flags.append(f"--{key} {shlex.quote(str(value))}")
    return "KERAS_BACKEND=jax python -m training.fit_jax " + " ".join(flags)


@dataclasses.dataclass
class Config:
    out: str
    init_from: str = "spn"
    stills_version: int = 8
    steps: int = 0  # 0: from --time_budget
    time_budget: float = 0.0
    batch_size: int = 64
    crop: int = 128
    lr: float = 2e-4
    min_lr: float = 1e-6
    warmup_steps: int = 300
    loss: str = "mse"
    ema: float = 0.999
    mixed_precision: bool = True
    eval_every: int = 1000
    keep_every: int = 0  # also keep the average every N steps (weights-step{N}.h5); 0: no snapshots
    seed: int = 0
    workers: int = 0  # 0: every core
    max_clips: int = 0  # 0: the whole set (a small number is for trying the script out)
    # JSON: the new network's config with --init_from none; with a preset or run, only its
    # "alignment" may change (the same weights then learn windows aligned otherwise)
    spn_config: str = ""
    # With an aligned network: this share of the training windows is drawn as filmed, not aligned, so
    # that the network has seen misaligned neighbours (where the flow fails on real footage)
    unaligned_share: float = 0.0
    # With an aligned network: the share of the training windows' neighbours whose flow gets a local
    # error before the warp (keras_spgan.align.flow_error_field), drawn once per window when the set
    # is rendered (training.fit draws new ones every time); validation windows stay as aligned
    flow_errors: float = 0.0


def _spn_config_override(config):
    """--spn_config as a dict (ValueError names what is wrong with it)."""
    try:
        override = json.loads(config.spn_config or "{}")
    except ValueError as error:
        raise ValueError(f"--spn_config is not JSON: {error}") from None
    if not isinstance(override, dict):
        raise ValueError(f"--spn_config must be a JSON object, got {config.spn_config!r}")
    return override


def _network_config(config):
    """The config of the SPN this run trains, read without building it (the workers that render
    the set need its frame count and alignment before JAX starts)."""
    override = _spn_config_override(config)
    if config.init_from == "none":
        return override
    with open(os.path.join(presets.preset_dir(config.init_from), presets.CONFIG_FILE)) as f:
        return {**json.load(f)["config"], **override}


def _alignment(config):
    """The alignment (keras_spgan.align) of the network this run trains."""
    return _network_config(config).get("alignment", "none")


def _num_frames(config):
    from keras_spgan.archs.spn import PAPER_SCALES

    return max(_network_config(config).get("scales", PAPER_SCALES))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m training.fit_jax", description=__doc__.split("\n\n")[0])
    for field in dataclasses.fields(Config):
        flag = f"--{field.name}"
        if field.type is bool or field.type == "bool":
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=field.default)
        elif field.default is dataclasses.MISSING:
            parser.add_argument(flag, required=True)
        else:
            parser.add_argument(flag, type=type(field.default), default=field.default)
    config = Config(**vars(parser.parse_args(argv)))
    if config.loss not in LOSSES:
        parser.error(f"--loss must be one of {LOSSES}, got {config.loss!r}")
    if config.stills_version not in training_set.VERSIONS:
        parser.error(f"--stills_version must be one of {sorted(training_set.VERSIONS)}")
    if not config.steps and config.time_budget <= 0:
        parser.error("give --steps or --time_budget")
    if config.crop % 4 or config.crop < 8:
        parser.error(f"--crop must be a multiple of 4 (the SPN down-samples twice), got {config.crop}")
    if not 0.0 <= config.ema < 1.0:
        parser.error(f"--ema must be in [0, 1), got {config.ema}")
    if config.steps and config.steps <= config.warmup_steps:
        parser.error(f"--steps ({config.steps}) must be more than --warmup_steps ({config.warmup_steps})")
    try:
        override = _spn_config_override(config)
    except ValueError as error:
        parser.error(str(error))
    if set(override) - {"alignment"} and config.init_from != "none":
        parser.error(f"--spn_config {config.spn_config}: with --init_from only \"alignment\" may change "
                     "(the weights are the initial network's); a new network needs --init_from none")
    if config.init_from != "none" and not presets.is_preset(config.init_from):  # a run's folder is one too
        names = ", ".join(presets.list_presets()) or "none in this install"
        parser.error(f"--init_from {config.init_from}: not a preset name, a preset folder nor a run of this "
                     f"trainer (presets: {names}); --init_from none trains from scratch")
    if _alignment(config) not in ALIGNMENTS:
        parser.error(f"--spn_config: \"alignment\" must be one of {ALIGNMENTS}, got {_alignment(config)!r}")
    if not 0.0 <= config.unaligned_share < 1.0:
        parser.error(f"--unaligned_share must be in [0, 1), got {config.unaligned_share}")
    if config.unaligned_share and _alignment(config) == "none":
        parser.error("--unaligned_share needs a network that takes aligned windows (its config's \"alignment\")")
    if not 0.0 <= config.flow_errors <= 1.0:
        parser.error(f"--flow_errors must be in [0, 1], got {config.flow_errors}")
    if config.flow_errors and _alignment(config) == "none":
        parser.error("--flow_errors needs a network that takes aligned windows (its config's \"alignment\")")
    if os.path.exists(os.path.join(config.out, RUN_FILE)):
        parser.error(f"--out {config.out} holds a finished run already; this trainer does not resume: "
                     f"give another folder (--init_from {config.out} continues from its result)")
    return config


# --- 1. the training set, rendered in memory ------------------------------------------------

_WORKER = {}


def _init_worker(version, num_frames=5, alignment="none", flow_errors=0.0):
    import cv2

    cv2.setNumThreads(1)  # one process per core already
    args = training_set.default_args(**training_set.VERSIONS[version])
    train, test = training_set.gather_sources(args)
    _WORKER.update(args=args, plan=training_set.plan_clips(train, test, args), num_frames=num_frames,
                   alignment=alignment, flow_errors=flow_errors)


def clip_windows(length, num_frames, split):
    """The frame indices of a clip's windows, one row per window: for training the windows that
    fit inside the clip, for validation one per frame with the ends replicated (as evaluation pads;
    keras_spgan.data.pipeline.window_indices gives one such row, but imports TensorFlow)."""
    radius = num_frames // 2
    centres = np.arange(radius, length - radius) if split == "train" else np.arange(length)
    return np.clip(centres[:, None] + np.arange(-radius, radius + 1)[None], 0, length - 1)


def _render(index):
    from keras_spgan.align import align_windows

    blurry, sharp, record = training_set.render(_WORKER["plan"][index], _WORKER["args"])
    blurry, sharp, split = np.stack(blurry), np.stack(sharp), record["split"]
    aligned = None
    if _WORKER["alignment"] != "none":
        errors = _WORKER["flow_errors"] if split == "train" else 0.0  # validation measures the flow as it is
        aligned = align_windows(blurry[clip_windows(len(blurry), _WORKER["num_frames"], split)], _WORKER["alignment"],
                                errors, np.random.default_rng([index, 13]) if errors else None)
    return _WORKER["plan"][index][0], split, blurry, sharp, aligned


def render_set(version, workers, max_clips=0, log=print, num_frames=5, alignment="none", flow_errors=0.0):
    """{"train": (blurry, sharp), "test": (blurry, sharp)}, uint8 (N, T, H, W, 3), and the set's digest;
    with an alignment, also "train_aligned" and "test_aligned": uint8 (N, windows, num_frames, H, W, 3),
    each clip's windows (`clip_windows`) aligned onto their centres, the training ones with
    `flow_errors` (`keras_spgan.align`; drawn from the clip's index: the same every time).

    Spawned workers (not forked: the parent may hold a JAX runtime) each rebuild the plan,
    which is cheap next to rendering."""
    _init_worker(version)
    plan = _WORKER["plan"]
    from keras_spgan.data import stills

    missing = sorted({s.name for s in stills.BUNDLED} - {s.name for s in stills.available()})
    if missing:  # then this is not the presets' set: say so before hours of training on it
        log(f"warning: the bundled stills {missing} are not installed; the set is made without them")
    indices = list(range(len(plan)))
    if max_clips:
        tests = [i for i in indices if plan[i][5] == "test"]
        indices = [i for i in indices if plan[i][5] == "train"][:max_clips] + tests[: max(2, max_clips // 4)]
    start = time.time()
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers or os.cpu_count(), initializer=_init_worker,
                      initargs=(version, num_frames, alignment, flow_errors)) as pool:
        clips = pool.map(_render, indices, chunksize=4)
    digest = hashlib.sha256()  # of the rendered clips: the alignment is in the run's record
    split = {"train": ([], []), "test": ([], [])}
    aligned = {"train": [], "test": []}
    for name, which, blurry, sharp, windows in clips:
        digest.update(name.encode() + blurry.tobytes() + sharp.tobytes())
        split[which][0].append(blurry)
        split[which][1].append(sharp)
        aligned[which].append(windows)
    aligned_note = f", windows aligned by {alignment!r}" if alignment != "none" else ""
    aligned_note += f" (training windows with flow errors on {flow_errors:g} of the neighbours)" if flow_errors else ""
    log(f"rendered {len(clips)} clips of version {version} in {time.time() - start:.0f} s "
        f"({len(split['train'][0])} train, {len(split['test'][0])} held-out{aligned_note}), "
        f"sha256 {digest.hexdigest()[:16]}")
    data = {k: (np.stack(b), np.stack(s)) for k, (b, s) in split.items()}
    if alignment != "none":
        data.update({f"{k}_aligned": np.stack(v) for k, v in aligned.items()})
    return data, digest.hexdigest()


# --- 2-5. the model, the step, the loop (JAX from here on) ------------------------------------

def load_model(config):
    import keras

    from keras_spgan.archs.spn import SPN

    if config.mixed_precision:
        keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
    # Synchronized BatchNorm is a tf.distribute feature; one device computes the same statistics.
    if config.init_from == "none":
        spn = SPN(**{**json.loads(config.spn_config or "{}"), "synchronized_bn": False})
        spn.build((None, max(spn.scales), config.crop, config.crop, 1))
        return spn
    return load_spn(config.init_from, _spn_config_override(config))


def load_spn(source, override=None):
    """An SPN with the weights of a preset (name or folder) or of a run of this trainer (its result);
    `override`: config entries that change no weight (the alignment)."""
    import keras

    from keras_spgan.archs.spn import SPN  # noqa: F401 (registers the class for deserialization)

    folder = presets.preset_dir(source)  # a run's folder is a preset folder
    with open(os.path.join(folder, presets.CONFIG_FILE)) as f:
        spn_config = json.load(f)
    spn_config["config"]["synchronized_bn"] = False
    spn_config["config"].pop("dtype", None)  # the policy in force decides
    spn_config["config"].update(override or {})
    spn = keras.saving.deserialize_keras_object(spn_config)
    spn.set_weights(presets.read_weights(os.path.join(folder, presets.WEIGHTS_FILE), spn))
    return spn


def to_luma(frames_uint8, chunk=64):
    """uint8 RGB (N, ..., 3) -> float32 BT.601 Y (N, ...), as the pipeline computes it, on the device
    (`chunk` items at a time: the float RGB in between would be 12 times the uint8 input)."""
    import jax.numpy as jnp

    from keras_spgan.colour import rgb_to_y

    return jnp.concatenate([jnp.asarray(rgb_to_y(jnp.asarray(frames_uint8[i : i + chunk], jnp.float32) / 255.0))[
        ..., 0] for i in range(0, len(frames_uint8), chunk)])


def device_data(data, num_frames, alignment, unaligned_share=0.0):
    """The training frames and the validation windows, as Y on the device: ((blurry, sharp) for
    sample_batch, or (blurry, sharp, the windows as filmed) with an unaligned share, and
    (windows (M, num_frames, H, W, 1), targets (M, H, W, 1)) for mean_psnr)."""
    import jax.numpy as jnp

    if alignment == "none":
        train = tuple(to_luma(a) for a in data["train"])
        return train, validation_windows(*(to_luma(a) for a in data["test"]), num_frames)
    (clips, sharp), windows = data["train"], data["train_aligned"]
    rows = clip_windows(clips.shape[1], num_frames, "train")
    blurry = to_luma(windows.reshape(-1, *windows.shape[2:]))  # one "clip" per window
    train = (blurry, to_luma(sharp[:, rows[:, num_frames // 2]].reshape(-1, 1, *sharp.shape[2:])))
    if unaligned_share:
        train += (to_luma(clips[:, rows].reshape(-1, *windows.shape[2:])),)
    windows, sharp = data["test_aligned"], data["test"][1]
    validation = (to_luma(windows.reshape(-1, *windows.shape[2:]))[..., None],
                  jnp.reshape(to_luma(sharp), (-1, *sharp.shape[2:-1]))[..., None])
    return train, validation


def sample_batch(key, blurry, sharp, num_frames, batch_size, crop, unaligned=None, unaligned_share=0.0):
    """A random batch from the Y frames on the device: windows (B, num_frames, crop, crop, 1) and
    targets (B, crop, crop, 1), augmented.

    blurry (N, L, H, W) holds N clips of L frames, or N aligned windows (L = num_frames); sharp
    (N, L', H, W) the targets of blurry's centre L' frames (L' = L for clips, 1 for windows);
    unaligned: blurry's windows as filmed, of which each batch draws `unaligned_share`."""
    import jax
    import jax.numpy as jnp

    clips, length, height, width = blurry.shape
    radius = num_frames // 2
    per_clip = length - 2 * radius
    first_target = (length - sharp.shape[1]) // 2  # the blurry frame whose target is sharp[:, 0]
    keys = jax.random.split(key, 8)
    window = jax.random.randint(keys[0], (batch_size,), 0, clips * per_clip)
    clip, centre = window // per_clip, radius + window % per_clip
    top = jax.random.randint(keys[1], (batch_size,), 0, height - crop + 1)
    left = jax.random.randint(keys[2], (batch_size,), 0, width - crop + 1)

    def one(c, t, y, x, as_filmed):
        frames = jax.lax.dynamic_slice(blurry, (c, t - radius, y, x), (1, num_frames, crop, crop))[0]
        if unaligned is not None:
            filmed = jax.lax.dynamic_slice(unaligned, (c, t - radius, y, x), (1, num_frames, crop, crop))[0]
            frames = jnp.where(as_filmed, filmed, frames)
        target = jax.lax.dynamic_slice(sharp, (c, t - first_target, y, x), (1, 1, crop, crop))[0]
        return jnp.concatenate([frames, target], axis=0)  # the target rides along as frame T

    filmed_coins = jax.random.bernoulli(keys[4], unaligned_share, (batch_size,))
    stack = jax.vmap(one)(clip, centre, top, left, filmed_coins)  # (B, T + 1, crop, crop)
    coins = jax.random.bernoulli(keys[3], 0.5, (4, batch_size))[:, :, None, None, None]
    stack = jnp.where(coins[0], stack[..., ::-1], stack)  # horizontal flip
    stack = jnp.where(coins[1], stack[..., ::-1, :], stack)  # vertical flip
    stack = jnp.where(coins[2], jnp.swapaxes(stack, -1, -2), stack)  # with the flips: all 8 of D4
    frames, target = stack[:, :num_frames], stack[:, num_frames]
    frames = jnp.where(coins[3], frames[:, ::-1], frames)  # time reversal
    return frames[..., None], target[..., None]


def learning_rate(step, total_steps, config):
    """Linear warm-up to --lr, then a half cosine to --min_lr at total_steps (traced: no recompile)."""
    import jax.numpy as jnp

    step = jnp.asarray(step, jnp.float32)
    warm = config.lr * (step + 1) / max(config.warmup_steps, 1)
    progress = jnp.clip((step - config.warmup_steps) / jnp.maximum(total_steps - config.warmup_steps, 1), 0, 1)
    cosine = config.min_lr + 0.5 * (config.lr - config.min_lr) * (1 + jnp.cos(jnp.pi * progress))
    return jnp.where(step < config.warmup_steps, warm, cosine)


def make_functions(model, config, num_frames):
    import jax
    import jax.numpy as jnp
    import optax

    tx = optax.inject_hyperparams(optax.adam)(learning_rate=config.lr, b1=0.9, b2=0.999, eps=1e-7)

    def loss_fn(trainable, non_trainable, frames, target):
        restored, non_trainable = model.stateless_call(trainable, non_trainable, frames, training=True)
        error = jnp.mean(jnp.square(restored.astype(jnp.float32) - target), axis=(1, 2, 3))
        if config.loss == "psnr":  # keras_spgan.losses.psnr_loss, in jnp
            from keras_spgan.losses import PSNR_LOSS_FLOOR

            error = (10.0 / math.log(10.0)) * jnp.log(error + PSNR_LOSS_FLOOR)
        return jnp.mean(error), non_trainable

    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

    def train_step(state, data, key, total_steps):
        trainable, non_trainable, opt_state, ema, step = state
        frames, target = sample_batch(key, data[0], data[1], num_frames, config.batch_size, config.crop,
                                      *data[2:], unaligned_share=config.unaligned_share)
        (loss, non_trainable), grads = grad_fn(trainable, non_trainable, frames, target)
        opt_state.hyperparams["learning_rate"] = learning_rate(step, total_steps, config)
        updates, opt_state = tx.update(grads, opt_state, trainable)
        trainable = optax.apply_updates(trainable, updates)
        ema = [config.ema * e + (1.0 - config.ema) * t for e, t in zip(ema, trainable)]
        return (trainable, non_trainable, opt_state, ema, step + 1), loss

    def restore(trainable, non_trainable, frames):
        restored, _ = model.stateless_call(trainable, non_trainable, frames, training=False)
        return jnp.clip(restored.astype(jnp.float32), 0.0, 1.0)

    return tx, jax.jit(train_step, donate_argnums=0), jax.jit(restore)


def validation_windows(blurry, sharp, num_frames):
    """Every frame of every held-out clip: (windows (N*T, num_frames, H, W, 1), targets (N*T, H, W, 1))."""
    import jax.numpy as jnp

    windows = blurry[:, clip_windows(blurry.shape[1], num_frames, "test")]  # (N, T, num_frames, H, W)
    return (jnp.reshape(windows, (-1, num_frames, *blurry.shape[2:]))[..., None],
            jnp.reshape(sharp, (-1, *sharp.shape[2:]))[..., None])


def mean_psnr(restore, trainable, non_trainable, windows, targets, batch=16):
    import jax.numpy as jnp

    values = []
    for i in range(0, windows.shape[0], batch):
        restored = restore(trainable, non_trainable, windows[i : i + batch])
        error = jnp.mean(jnp.square(restored - targets[i : i + batch]), axis=(1, 2, 3))
        values.append(-10.0 * jnp.log10(jnp.maximum(error, 1e-10)))
    return float(jnp.mean(jnp.concatenate(values)))


def input_psnr(windows, targets, num_frames):
    import jax.numpy as jnp

    error = jnp.mean(jnp.square(windows[:, num_frames // 2] - targets), axis=(1, 2, 3))
    return float(jnp.mean(-10.0 * jnp.log10(jnp.maximum(error, 1e-10))))


def save_weights(model, trainable, non_trainable, path):
    """The presets' float16 weights file (model.weights order, which interleaves BatchNorm's
    trainable and moving statistics), written under a temporary name and renamed."""
    for variables, values in ((model.trainable_variables, trainable), (model.non_trainable_variables, non_trainable)):
        for variable, value in zip(variables, values, strict=True):
            variable.assign(np.asarray(value, np.float32))
    partial = path + ".partial"
    presets.write_weights(partial, model)
    os.replace(partial, path)


def steps_for_budget(config, step, rate, elapsed, eval_seconds):
    """The last step, a multiple of 100, such that training at `rate` steps/s, the evaluations
    (two measurements of `eval_seconds` each) and saving fit in what is left of --time_budget."""
    left = config.time_budget - elapsed - min(30.0, 0.1 * config.time_budget)  # saving, and slack
    evaluations = 1 + left * rate / config.eval_every
    total = (step + int((left - evaluations * 2 * max(eval_seconds, 1.0)) * rate)) // 100 * 100
    if total <= max(step, config.warmup_steps):
        raise SystemExit(f"--time_budget {config.time_budget:g}: too short to train past the warm-up at "
                         f"{rate:.2f} steps/s")
    return total


def train(config, log=print):
    started = time.time()
    os.makedirs(config.out, exist_ok=True)
    num_frames, alignment = _num_frames(config), _alignment(config)
    data, digest = render_set(config.stills_version, config.workers, config.max_clips, log, num_frames, alignment,
                              config.flow_errors)

    import jax
    import keras

    log(f"JAX {jax.__version__} on {jax.devices()}, Keras {keras.__version__}")
    model = load_model(config)
    assert max(model.scales) == num_frames and model.alignment == alignment, (model.scales, model.alignment)
    train_data, (windows, targets) = device_data(data, num_frames, alignment, config.unaligned_share)
    del data
    tx, train_step, restore = make_functions(model, config, num_frames)
    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    state = (trainable, non_trainable, tx.init(trainable), [jax.numpy.array(t) for t in trainable],
             jax.numpy.zeros((), jax.numpy.int32))
    baseline = input_psnr(windows, targets, num_frames)
    eval_seconds = time.time()
    start_psnr = mean_psnr(restore, trainable, non_trainable, windows, targets)
    eval_seconds = time.time() - eval_seconds  # compilation included: an overestimate, on the safe side
    curve = [{"step": 0, "psnr": start_psnr, "ema_psnr": start_psnr}]
    log(f"held-out Y PSNR: input {baseline:.3f} dB, start {curve[0]['psnr']:.3f} dB")

    key = jax.random.PRNGKey(config.seed)
    total = config.steps or 10 ** 9
    step, losses, best = 0, [], (curve[0]["psnr"], 0)
    timed_from = None
    while step < total:
        key, sub = jax.random.split(key)
        state, loss = train_step(state, train_data, sub, total)
        step += 1
        losses.append(loss)
        if step == 20:
            jax.block_until_ready(loss)
            timed_from = time.time()  # after compilation
        if not config.steps and step == max(config.warmup_steps, 120):
            jax.block_until_ready(loss)
            rate = (step - 20) / (time.time() - timed_from)
            total = steps_for_budget(config, step, rate, time.time() - started, eval_seconds)
            log(f"{rate:.2f} steps/s at batch {config.batch_size}: training to step {total}")
        if step % 100 == 0 or step == total:
            mean_loss = float(np.mean([float(v) for v in losses]))
            losses = []
            lr = float(learning_rate(step - 1, total, config))
            speed = (step - 20) / (time.time() - timed_from) if timed_from else 0.0
            log(f"step {step}/{total} loss {mean_loss:.6f} lr {lr:.2e} {speed:.2f} steps/s "
                f"{time.time() - started:.0f} s", flush=True)
        if step % config.eval_every == 0 or step == total:
            trainable, non_trainable, _, ema, _ = state
            point = {"step": step, "psnr": mean_psnr(restore, trainable, non_trainable, windows, targets),
                     "ema_psnr": mean_psnr(restore, ema, non_trainable, windows, targets)}
            curve.append(point)
            log(f"  held-out Y PSNR at step {step}: {point['psnr']:.3f} dB, average {point['ema_psnr']:.3f} dB")
            if point["ema_psnr"] > best[0]:
                best = (point["ema_psnr"], step)
                save_weights(model, ema, non_trainable, os.path.join(config.out, "weights-best.h5"))
        if config.keep_every and step % config.keep_every == 0 and step < total:
            _, non_trainable, _, ema, _ = state
            save_weights(model, ema, non_trainable, os.path.join(config.out, f"weights-step{step}.h5"))
    trainable, non_trainable, _, ema, _ = state
    save_weights(model, trainable, non_trainable, os.path.join(config.out, "weights-last.h5"))
    save_weights(model, ema, non_trainable, os.path.join(config.out, RESULT_FILE))
    write_json(os.path.join(config.out, CONFIG_FILE), keras.saving.serialize_keras_object(model))
    config_record = {**dataclasses.asdict(config), "steps": total}
    record = {"trainer": "training.fit_jax",
              "config": {**config_record, "data_dir": f"builtin:stills-v{config.stills_version}"},
              "command": command(config_record), "steps": total, "set_sha256": digest, "alignment": alignment,
              "input_psnr": baseline, "curve": curve, "best": {"ema_psnr": best[0], "step": best[1]},
              "steps_per_s": (total - 20) / (time.time() - timed_from) if timed_from else None,
              "seconds": time.time() - started,
              "jax": jax.__version__, "keras": keras.__version__, "device": str(jax.devices()[0])}
    write_json(os.path.join(config.out, RUN_FILE), record)  # last: with it the folder is a finished run
    log(f"done: {total} steps in {time.time() - started:.0f} s; best average {best[0]:.3f} dB at step {best[1]}")
    return record


def main(argv=None):
    if os.environ.get("KERAS_BACKEND") != "jax":
        raise SystemExit("training.fit_jax runs on Keras' JAX backend: set KERAS_BACKEND=jax")
    config = parse_args(argv)
    train(config, log=lambda *a, **k: print(*a, **{"flush": True, **k}))


if __name__ == "__main__":
    sys.exit(main())
