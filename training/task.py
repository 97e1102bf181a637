"""The training task: data, model, optimizers and losses for one TrainConfig.

What is trained and on what lives here; `training.loop` drives it (resume,
checkpoints, schedule, summaries). Models and optimizers are created inside
the strategy's scope and the optimizers built there, as MirroredStrategy
requires for a custom train_step (see platform facts).
"""

import dataclasses
import json
import logging
import math
import os

import keras
import tensorflow as tf

from keras_spgan import build_discriminator, build_spn, losses, metrics
from keras_spgan.archs.spn import SPN, transfer_weights
from keras_spgan.data import (
    DatasetError,
    load_clips,
    num_training_windows,
    resolve_data_dir,
    training_dataset,
    validation_dataset,
)
from keras_spgan.models import SPGAN, ModelLoadError, load_generator
from keras_spgan.models.loading import ARCH_FILE, freeze_batch_norm
from keras_spgan.models.spgan import ADAM_BETAS
from training.config import ConfigError

log = logging.getLogger(__name__)


@dataclasses.dataclass
class TrainingData:
    data_dir: str
    train_clips: list
    val_clips: list
    num_windows: int


def load_data(config):
    """Reads and validates the train and test splits (before any model is built)."""
    try:
        data_dir = resolve_data_dir(config.data_dir)
        train = load_clips(data_dir, config.data_format, "train", min_frames=config.num_frames)
        val = load_clips(data_dir, config.data_format, "test")
    except DatasetError as error:
        raise ConfigError("data_dir", str(error)) from None
    if not train:
        raise ConfigError("data_dir", f"{data_dir}: no training clips with at least {config.num_frames} frames")
    val = [clip for clip in val if clip.sharp is not None]
    smallest = min(min(clip.size) for clip in train)
    if smallest < config.crop:
        if smallest < 4:
            raise ConfigError("crop", f"the smallest training frame side is {smallest} px: too small to train on")
        log.warning("--crop %d is larger than the smallest training frame side (%d px): training on %d px crops",
                    config.crop, smallest, smallest // 4 * 4)
        config.crop = smallest // 4 * 4
    return TrainingData(data_dir, train, val, num_training_windows(train, config.num_frames))


def total_steps(config, data):
    """--steps, or --epochs passes over the training windows, whichever is fewer."""
    candidates = []
    if config.steps:
        candidates.append(config.steps)
    if config.epochs:
        candidates.append(config.epochs * math.ceil(data.num_windows / config.batch_size))
    return min(candidates)


def set_precision(config):
    """mixed_bfloat16 on CPUs, mixed_float16 on GPUs (with loss scaling), else float32."""
    if not config.mixed_precision:
        keras.mixed_precision.set_global_policy("float32")
        return "float32"
    policy = "mixed_float16" if tf.config.list_physical_devices("GPU") else "mixed_bfloat16"
    keras.mixed_precision.set_global_policy(policy)
    return policy


def _adam(learning_rate, ema=0.0):
    optimizer = keras.optimizers.Adam(learning_rate, beta_1=ADAM_BETAS[0], beta_2=ADAM_BETAS[1],
                                      use_ema=ema > 0, ema_momentum=ema or 0.99)
    if ema:
        # Keras' fit ends by copying the average into the weights. The loop calls fit twice on a
        # resume (the interrupted epoch, then the rest), which would restart the second call from
        # the average and break exact resume; it swaps the average in itself (callbacks.Averaged).
        optimizer.finalize_variable_values = lambda var_list: None
    if keras.mixed_precision.global_policy().name == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def checkpoint_generator_config(checkpoint):
    """The generator's config in a checkpoint (RUN/checkpoints/ckpt-N): the network as it trains,
    whatever built it at first (--init_from's config is in no flag)."""
    with open(os.path.join(checkpoint, ARCH_FILE)) as f:
        model = keras.saving.deserialize_keras_object(json.load(f))
    return generator_of(model).get_config()


def _generator(config, resume_from=None):
    if resume_from is not None and os.path.isfile(os.path.join(resume_from, ARCH_FILE)):
        return SPN.from_config(checkpoint_generator_config(resume_from))  # its weights come from there next
    if config.init_from is None:
        try:
            return build_spn(config.scales, **config.spn_config)
        except (TypeError, ValueError) as error:
            raise ConfigError("spn_config", str(error)) from None
    try:
        source = load_generator(config.init_from)
    except ModelLoadError as error:
        raise ConfigError("init_from", str(error)) from None
    if tuple(source.scales) != tuple(config.scales):
        raise ConfigError(
            "init_from",
            f"{config.init_from} is an SPN with scales {','.join(map(str, source.scales))}, "
            f"but --scales asks for {','.join(map(str, config.scales))}",
        )
    # Rebuild in this scope (and precision), then copy the weights. Only the up-sampling may
    # change on the way (a trained ConvTranspose network starts a resize one: transfer_weights).
    spn_config = source.get_config()
    differing = {k: v for k, v in config.spn_config.items() if spn_config.get(k) != v}
    # The alignment of its input windows may change too: an unaligned network learns aligned ones.
    if set(differing) - {"upsampling", "alignment"}:
        raise ConfigError("spn_config", f"{differing} differs from the --init_from model's {spn_config}")
    try:
        spn = SPN.from_config({**spn_config, **differing})
    except (TypeError, ValueError) as error:
        raise ConfigError("spn_config", str(error)) from None
    return transfer_weights(source, spn)  # by layer name; the same as set_weights when nothing differs


def build_model(config, strategy, resume_from=None):
    """The compiled training model: an SPN, or an SPGAN around one; `resume_from`: the checkpoint
    a resumed run restores next, whose network it builds."""
    model = _build_model(config, strategy, resume_from)
    if _is_multi_worker(strategy):
        _patch_for_multi_worker(model)
    return model


def _patch_for_multi_worker(model):
    """Works around Keras 3.15's fit under MultiWorkerMirroredStrategy
    (keras-team/keras#20585, tensorflow/tensorflow#72388), on this instance only.

    1. fit peeks at the first batch and reduces it across replicas to build the
       model symbolically, which fails on MWMS's PerReplica values. Our models
       are built already; without the peek, compiled metrics are built when the
       step is traced, as Keras does when no strategy is set.
    2. fit reduces each step's logs with strategy.reduce("MEAN", v, axis=0),
       which fails on scalars: the steps return them with shape [1]. Epoch
       logs come from the metrics themselves, aggregated over all workers.
    """
    model._maybe_symbolic_build = lambda *args, **kwargs: None

    def with_batch_axis(step):
        return lambda data: {name: tf.reshape(value, [1]) for name, value in step(data).items()}

    model.train_step = with_batch_axis(model.train_step)
    model.test_step = with_batch_axis(model.test_step)


def _build_model(config, strategy, resume_from=None):
    with strategy.scope():
        generator = _generator(config, resume_from)
        if config.freeze_bn:
            freeze_batch_norm(generator)
        if not config.is_gan:
            model = generator
            model.compile(
                optimizer=_adam(config.learning_rate, config.ema),
                loss=losses.PSNRLoss() if config.content_loss == "psnr" else keras.losses.MeanSquaredError(),
                metrics=[metrics.PSNR(), metrics.SSIM()],
            )
            model.optimizer.build(model.trainable_variables)
            return model
        space = "gradient" if config.model == "spgan" else "pixel"
        try:
            discriminator = build_discriminator(space, **config.discriminator_config)
        except (TypeError, ValueError) as error:
            raise ConfigError("discriminator_config", str(error)) from None
        model = SPGAN(generator, discriminator, adv_weight=config.adv_weight, adversarial_loss=config.adversarial_loss)
        # The average is the generator's: the discriminator only serves training.
        model.compile(g_optimizer=_adam(config.learning_rate, config.ema), d_optimizer=_adam(config.learning_rate))
        return model


def generator_of(model):
    """The SPN of a training model (the model itself, or an SPGAN's generator)."""
    return getattr(model, "generator", model)


def train_dataset(config, data, strategy, start_step, alignment="none"):
    """Distributed training batches from step `start_step` on (exactly resumable); windows
    aligned as the generator's `alignment` says (pass `generator_of(model).alignment`)."""
    if config.flow_errors and alignment == "none":
        raise ConfigError("flow_errors", "needs a network fed aligned windows (\"alignment\": \"flow\" in its "
                                         "config: --spn_config, or a preset / run that has it)")

    def make(input_context=None):
        return training_dataset(
            data.train_clips,
            config.num_frames,
            batch_size=config.batch_size,
            crop=config.crop,
            seed=config.seed,
            input_context=input_context,
            cache="" if config.cache else None,
            start_batch=start_step,
            alignment=alignment,
            flow_errors=config.flow_errors,
        )

    if strategy.num_replicas_in_sync == 1:
        return make()
    # One input pipeline per worker, sharded before decoding.
    return strategy.distribute_datasets_from_function(make)


def val_dataset(config, data, strategy, alignment="none"):
    if not data.val_clips:
        return None
    batch = max(config.batch_size, strategy.num_replicas_in_sync)
    batch -= batch % strategy.num_replicas_in_sync
    return validation_dataset(
        data.val_clips, config.num_frames, max_windows=config.val_windows, crop=config.val_crop, batch_size=batch,
        alignment=alignment,
    )


def input_psnr(dataset):
    """PSNR of the blurry centre frames against the sharp ones: the bar to beat."""
    values = []
    for blurry, sharp in dataset:
        centre = blurry[:, blurry.shape[1] // 2]
        values.append(metrics.psnr(sharp, centre).numpy())
    return float(tf.reduce_mean(tf.concat(values, 0)))


def _is_multi_worker(strategy):
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
