"""SPGAN: an SPN generator trained against a discriminator in gradient space.

`SPGAN` is a `keras.Model` whose `fit` runs the paper's adversarial training
(section 3.3): each `train_step` updates the generator G with

    content MSE + adv_weight * adversarial loss on D(G(x))

and the discriminator D with the real/fake cross-entropy, from one forward
pass, each with its own optimizer. Whether D sees gradient magnitudes (SPGAN)
or pixels (SPGAN-plain) is decided by the discriminator (`space=`).

Distribution: per-example losses are averaged over the *global* batch
(`tf.nn.compute_average_loss`) so that gradients summed across replicas equal
single-device gradients; reported values come from `keras.metrics.Mean`
trackers, which Keras aggregates across replicas. Create and `compile` the
model inside `strategy.scope()`: `compile` builds both optimizers there, which
MirroredStrategy requires for optimizers used in a custom step. Use ONE
strategy object per process: a second MirroredStrategy reuses the first one's
collective keys and fails with "Shape mismatch in the collective instance"
as soon as the models differ (tensorflow/tensorflow#62790).
"""

import keras
import tensorflow as tf

from keras_spgan import losses
from keras_spgan.layers import PACKAGE
from keras_spgan.metrics import psnr

# Paper section 4.2: SPGAN fine-tunes at 1e-5 with Adam(0.5, 0.999).
DEFAULT_LEARNING_RATE = 1e-5
ADAM_BETAS = (0.5, 0.999)


def default_optimizer(learning_rate=DEFAULT_LEARNING_RATE):
    return keras.optimizers.Adam(learning_rate, beta_1=ADAM_BETAS[0], beta_2=ADAM_BETAS[1])


@keras.saving.register_keras_serializable(package=PACKAGE)
class SPGAN(keras.Model):
    """Args:
        generator: the SPN (or any model from blurry frames to the sharp centre Y).
        discriminator: a model from a Y image to 2 logits (class 1 = real),
            e.g. `build_discriminator("gradient")`.
        adv_weight: lambda of eq. 5 (paper: 1e-5).
        adversarial_loss: "minimax" (the paper's log(1 - D)) or "non_saturating".

    Metrics: loss (G total), content_loss, adv_loss, d_loss, d_real and d_fake
    (D's mean probability of "real" on sharp and restored frames), psnr.
    `model(x)` and `predict` run the generator.
    """

    def __init__(self, generator, discriminator, adv_weight=1e-5, adversarial_loss="minimax", **kwargs):
        super().__init__(**kwargs)
        if adversarial_loss not in losses.ADVERSARIAL_LOSSES:
            raise ValueError(
                f"adversarial_loss must be one of {losses.ADVERSARIAL_LOSSES}, got {adversarial_loss!r}"
            )
        if not adv_weight >= 0:
            raise ValueError(f"adv_weight must be >= 0, got {adv_weight!r}")
        try:
            output_shape = tuple(discriminator.output.shape)
        except (AttributeError, ValueError):
            raise ValueError("discriminator must be a built model with one output (2 logits)") from None
        if output_shape[1:] != (2,):
            raise ValueError(f"discriminator must output 2 logits, got output shape {output_shape}")
        self.generator = generator
        self.discriminator = discriminator
        self.adv_weight = float(adv_weight)
        self.adversarial_loss = adversarial_loss
        self.g_optimizer = None
        self.d_optimizer = None
        names = ("loss", "content_loss", "adv_loss", "d_loss", "d_real", "d_fake", "psnr")
        self.trackers = {name: keras.metrics.Mean(name=name) for name in names}
        self.built = True  # both sub-models are functional and already built

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def compile(self, g_optimizer=None, d_optimizer=None, **kwargs):
        """Sets (defaults: Adam(1e-5, 0.5, 0.999) each) and builds both optimizers.

        Call it inside the distribution strategy's scope. The generator's
        optimizer is also `model.optimizer`, so callbacks that change the
        learning rate (ReduceLROnPlateau) act on the generator.
        """
        self.g_optimizer = g_optimizer or default_optimizer()
        self.d_optimizer = d_optimizer or default_optimizer()
        if self.g_optimizer is self.d_optimizer:
            raise ValueError("g_optimizer and d_optimizer must be two different optimizer objects")
        super().compile(optimizer=self.g_optimizer, **kwargs)
        self.g_optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)

    def get_compile_config(self):
        if self.g_optimizer is None:
            return None
        return {
            "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer),
            "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
        }

    def compile_from_config(self, config):
        self.compile(
            g_optimizer=keras.saving.deserialize_keras_object(config["g_optimizer"]),
            d_optimizer=keras.saving.deserialize_keras_object(config["d_optimizer"]),
        )

    @property
    def metrics(self):
        return list(self.trackers.values())

    def _forward(self, blurry, sharp, training):
        """One pass through G and D; returns per-example losses and D's logits.

        D sees real and restored frames in ONE call on their concatenation:
        one pass instead of two, and in training mode BatchNorm normalises
        real and fake together, so D cannot separate them by batch
        statistics alone (with two calls each batch gets its own statistics).
        """
        restored = self.generator(blurry, training=training)
        batch = tf.shape(sharp)[0]
        both = tf.concat([tf.cast(sharp, restored.dtype), restored], axis=0)
        logits = self.discriminator(both, training=training)
        real_logits, fake_logits = logits[:batch], logits[batch:]
        content = losses.content_loss(sharp, restored)
        adversarial = losses.generator_adversarial_loss(fake_logits, self.adversarial_loss)
        return {
            "restored": restored,
            "real_logits": real_logits,
            "fake_logits": fake_logits,
            "content_loss": content,
            "adv_loss": adversarial,
            "loss": content + self.adv_weight * adversarial,
            "d_loss": losses.discriminator_loss(real_logits, fake_logits),
        }

    def _update_trackers(self, sharp, out):
        for name in ("loss", "content_loss", "adv_loss", "d_loss"):
            self.trackers[name].update_state(out[name])
        self.trackers["d_real"].update_state(losses.real_probability(out["real_logits"]))
        self.trackers["d_fake"].update_state(losses.real_probability(out["fake_logits"]))
        restored = tf.clip_by_value(tf.cast(out["restored"], tf.float32), 0.0, 1.0)
        self.trackers["psnr"].update_state(psnr(sharp, restored))
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def train_step(self, data):
        if self.g_optimizer is None:
            raise RuntimeError("SPGAN must be compiled before training: call model.compile()")
        blurry, sharp, _ = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            out = self._forward(blurry, sharp, training=True)
            # Average over the global batch: summing replica gradients then
            # gives the single-device gradient. scale_loss is the loss-scaling
            # hook of a LossScaleOptimizer (mixed float16), else the identity.
            g_loss = self.g_optimizer.scale_loss(tf.nn.compute_average_loss(out["loss"]))
            d_loss = self.d_optimizer.scale_loss(tf.nn.compute_average_loss(out["d_loss"]))
        g_vars = self.generator.trainable_variables
        d_vars = self.discriminator.trainable_variables
        self.g_optimizer.apply(g_tape.gradient(g_loss, g_vars), g_vars)
        self.d_optimizer.apply(d_tape.gradient(d_loss, d_vars), d_vars)
        return self._update_trackers(sharp, out)

    def test_step(self, data):
        blurry, sharp, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self._update_trackers(sharp, self._forward(blurry, sharp, training=False))

    def get_config(self):
        return {
            **super().get_config(),
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "adv_weight": self.adv_weight,
            "adversarial_loss": self.adversarial_loss,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["generator"] = keras.saving.deserialize_keras_object(config["generator"])
        config["discriminator"] = keras.saving.deserialize_keras_object(config["discriminator"])
        return cls(**config)
