"""Per-example losses of SPN and SPGAN (paper eqs. 3-5).

They return one value per example so that the caller can average over the
*global* batch under `tf.distribute` (`tf.nn.compute_average_loss`). The
discriminator emits two logits, class 1 = real (sharp); log-probabilities are
taken with `log_softmax`, never as log(softmax(.)), which underflows.
"""

import math

import keras
import tensorflow as tf

from keras_spgan.layers import PACKAGE

ADVERSARIAL_LOSSES = ("minimax", "non_saturating")
CONTENT_LOSSES = ("mse", "psnr")
# The MSE floor of the PSNR loss (60 dB): about 8-bit quantisation error, 1 / (12 * 255^2) = 1.3e-6.
# Below it a window is as restored as 8-bit frames can show, and its weight stops growing.
PSNR_LOSS_FLOOR = 1e-6


def content_loss(sharp, restored):
    """Eq. 3: mean squared error over H, W (and channels), per example."""
    diff = tf.cast(sharp, tf.float32) - tf.cast(restored, tf.float32)
    return tf.reduce_mean(tf.square(diff), axis=list(range(1, diff.shape.rank)))


def psnr_loss(sharp, restored):
    """Minus the PSNR (dB) of each example, values in [0, 1]: 10 log10(MSE + floor).

    Its gradient is the MSE's divided by each example's MSE: every window counts by
    how many dB it can gain, not by its squared error, so mildly blurred or sharp windows
    (small errors, where a deblurrer most easily does harm) weigh as much as strongly
    blurred ones. The mean PSNR over clips, what the presets are measured and chosen by,
    is the same kind of average; plain MSE is dominated by the strongly blurred windows."""
    return (10.0 / math.log(10.0)) * tf.math.log(content_loss(sharp, restored) + PSNR_LOSS_FLOOR)


@keras.saving.register_keras_serializable(package=PACKAGE)
class PSNRLoss(keras.losses.Loss):
    """`psnr_loss` as a Keras loss (the mean over the batch of minus each example's PSNR)."""

    def __init__(self, name="psnr_loss", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        return psnr_loss(y_true, y_pred)


def _log_prob(logits, label):
    return tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)[:, label]


def generator_adversarial_loss(fake_logits, kind="minimax"):
    """Eq. 4 for the generator, per example.

    "minimax": log(1 - D(G(x))), the paper's form (minimised; saturates when D
    rejects confidently). "non_saturating": -log D(G(x)), the usual remedy.
    """
    if kind == "minimax":
        return _log_prob(fake_logits, 0)
    if kind == "non_saturating":
        return -_log_prob(fake_logits, 1)
    raise ValueError(f"adversarial loss must be one of {ADVERSARIAL_LOSSES}, got {kind!r}")


def discriminator_loss(real_logits, fake_logits):
    """Real/fake cross-entropy, per example: -log D(y) - log(1 - D(G(x)))."""
    return -_log_prob(real_logits, 1) - _log_prob(fake_logits, 0)


def real_probability(logits):
    """D's probability that each input is real (for monitoring)."""
    return tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1)[:, 1]
