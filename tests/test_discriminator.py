import numpy as np
import pytest

import keras_spgan as ks
from keras_spgan.layers import SobelMagnitude
from tests.conftest import TINY_DISCRIMINATOR


def test_gradient_magnitude_of_a_ramp_is_its_slope():
    slope_x, slope_y = 0.01, 0.02
    yy, xx = np.mgrid[0:16, 0:16].astype(np.float32)
    ramp = (slope_x * xx + slope_y * yy)[None, ..., None]
    magnitude = np.asarray(SobelMagnitude()(ramp))[0, 1:-1, 1:-1, 0]  # interior
    np.testing.assert_allclose(magnitude, np.hypot(slope_x, slope_y), rtol=1e-4)


def test_gradient_magnitude_of_a_step():
    step = np.zeros((1, 8, 8, 1), np.float32)
    step[:, :, 4:] = 1.0  # vertical edge between columns 3 and 4
    magnitude = np.asarray(SobelMagnitude()(step))[0, 2:-2, :, 0]
    # Sobel/8 across a unit step: 1/2 in the two columns beside the edge, ~0 elsewhere.
    np.testing.assert_allclose(magnitude[:, 3:5], 0.5, atol=1e-5)
    assert np.abs(magnitude[:, [0, 1, 6, 7]]).max() < 1e-5


def test_paper_discriminator_layout():
    d = ks.build_discriminator("gradient")
    convs = [layer for layer in d.layers if layer.name.startswith("conv") and layer.name[4:].isdigit()]
    assert [c.filters for c in convs] == [64] * 2 + [128] * 3 + [256] * 4 + [512] * 5
    assert all(c.kernel_size == (3, 3) for c in convs)
    assert d.get_layer("fc1").units == 4096
    assert d.get_layer("fc2").units == 2
    assert d.get_layer("sobel_magnitude") is not None
    assert d.count_params() == 15_225_410
    with pytest.raises(ValueError):
        ks.build_discriminator("pixel").get_layer("sobel_magnitude")


@pytest.mark.parametrize("size", [(32, 32), (48, 16)])
@pytest.mark.parametrize("space", ["gradient", "pixel"])
def test_output_is_two_logits_for_any_size(space, size):
    d = ks.build_discriminator(space, **TINY_DISCRIMINATOR)
    out = d(np.random.rand(3, *size, 1).astype(np.float32))
    assert out.shape == (3, 2)


def test_flatten_head_needs_a_fixed_size():
    with pytest.raises(ValueError, match="input_size"):
        ks.build_discriminator(pooling="flatten")
    d = ks.build_discriminator(pooling="flatten", input_size=(16, 16), **TINY_DISCRIMINATOR)
    assert d(np.zeros((1, 16, 16, 1), np.float32)).shape == (1, 2)


def test_softmax_output_gives_probabilities():
    d = ks.build_discriminator(output_activation="softmax", **TINY_DISCRIMINATOR)
    p = np.asarray(d(np.random.rand(2, 16, 16, 1).astype(np.float32)))
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-6)


def test_gradient_space_discriminator_is_blind_to_brightness_offsets():
    d = ks.build_discriminator("gradient", **TINY_DISCRIMINATOR)
    x = np.random.rand(2, 16, 16, 1).astype(np.float32) * 0.5
    np.testing.assert_allclose(np.asarray(d(x)), np.asarray(d(x + 0.3)), atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(space="fourier"), "space"),
        (dict(pooling="max"), "pooling"),
        (dict(groups=()), "groups"),
        (dict(input_size=(30, 30)), "input_size"),
        (dict(output_activation="sigmoid"), "output_activation"),
        (dict(bn_momentum=1.5), "bn_momentum"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ks.Discriminator(**kwargs)


def test_gradient_magnitude_has_finite_gradients_under_float16():
    """Mixed float16 (GPUs): the magnitude is computed in float32. In float16 its epsilon and the
    squares of small derivatives underflowed to 0, the square root's gradient was infinite on
    flat and gently sloped regions, and the loss scaling skipped every SPGAN generator step."""
    import keras
    import tensorflow as tf

    images = tf.concat([tf.fill((1, 8, 8, 1), 0.5), 0.5 + 1e-3 * tf.random.uniform((1, 8, 8, 1), seed=2)], axis=0)
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        layer = SobelMagnitude()
        x = tf.cast(images, tf.float16)
        with tf.GradientTape() as tape:
            tape.watch(x)
            magnitude = layer(x)
            loss = tf.reduce_sum(tf.cast(magnitude, tf.float32)) * 32768.0  # a loss scale
        gradient = tape.gradient(loss, x)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert magnitude.dtype == tf.float16
    assert np.all(np.isfinite(gradient.numpy().astype(np.float32)))
    # the float32 values of the same (float16) pixels, to float16's precision
    expected = SobelMagnitude()(tf.cast(x, tf.float32)).numpy()
    np.testing.assert_allclose(magnitude.numpy().astype(np.float32), expected, rtol=1e-3, atol=1e-7)
