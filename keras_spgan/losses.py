"""Per-example losses of SPN and SPGAN (paper eqs. 3-5).

They return one value per example so that the caller can average over the
*global* batch under `tf.distribute` (`tf.nn.compute_average_loss`). The
discriminator emits two logits, class 1 = real (sharp); log-probabilities are
taken with `log_softmax`, never as log(softmax(.)), which underflows.
"""

import tensorflow as tf

ADVERSARIAL_LOSSES = ("minimax", "non_saturating")


def content_loss(sharp, restored):
    """Eq. 3: mean squared error over H, W (and channels), per example."""
    diff = tf.cast(sharp, tf.float32) - tf.cast(restored, tf.float32)
    return tf.reduce_mean(tf.square(diff), axis=list(range(1, diff.shape.rank)))


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
