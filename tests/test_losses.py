"""keras_spgan.losses: the PSNR content loss (what it computes, how it weighs examples)."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_spgan import losses


def _pair(errors, size=8):
    """Sharp and restored batches whose examples have the given constant errors."""
    sharp = np.full((len(errors), size, size, 1), 0.5, np.float32)
    restored = sharp + np.array(errors, np.float32)[:, None, None, None]
    return tf.constant(sharp), tf.constant(restored)


def test_the_psnr_loss_is_minus_each_examples_psnr():
    sharp, restored = _pair([0.1, 0.01, 0.0])
    values = losses.psnr_loss(sharp, restored).numpy()
    expected = [10 * math.log10(mse + losses.PSNR_LOSS_FLOOR) for mse in (0.01, 1e-4, 0.0)]
    np.testing.assert_allclose(values, expected, rtol=1e-5)
    assert values[2] == pytest.approx(-60.0, abs=1e-3)  # the floor: a perfect example is 60 dB, not infinite
    keras_loss = losses.PSNRLoss()
    assert float(keras_loss(sharp, restored)) == pytest.approx(np.mean(expected), rel=1e-5)
    restored_loss = keras.losses.deserialize(keras.losses.serialize(keras_loss))
    assert isinstance(restored_loss, losses.PSNRLoss)


def test_the_psnr_loss_weighs_each_example_by_one_over_its_error():
    """MSE's gradient is proportional to each example's error; the PSNR loss's to its error
    divided by its MSE: an example 10x closer to its target pulls 10x harder, not 10x weaker."""
    sharp, restored = _pair([0.1, 0.01])
    restored = tf.Variable(restored)
    with tf.GradientTape(persistent=True) as tape:
        psnr = tf.reduce_mean(losses.psnr_loss(sharp, restored))
        mse = tf.reduce_mean(losses.content_loss(sharp, restored))
    floor = losses.PSNR_LOSS_FLOOR
    for loss, ratio in ((psnr, (0.01 / (1e-4 + floor)) / (0.1 / (0.01 + floor))), (mse, 0.1)):  # psnr: ~9.9
        grad = tape.gradient(loss, restored).numpy()
        assert abs(grad[1]).mean() / abs(grad[0]).mean() == pytest.approx(ratio, rel=1e-3)
