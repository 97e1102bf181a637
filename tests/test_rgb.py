import numpy as np
import pytest

import keras_spgan as ks
from keras_spgan import colour
from tests.conftest import TINY_SPN


def _zero_residual(spn):
    """Makes the SPN's reconstruction output exactly 0: it then returns the centre Y."""
    head = spn.get_layer("head_conv")
    head.set_weights([np.zeros_like(w) for w in head.get_weights()])
    return spn


@pytest.mark.parametrize("size", [(16, 16), (17, 9), (13, 30), (36, 20), (5, 7), (64, 36)])
def test_any_size_returns_the_centre_frame_size(size):
    model = ks.build_rgb_deblurrer(ks.build_spn(**TINY_SPN))
    frames = np.random.rand(2, 5, *size, 3).astype(np.float32)
    out = np.asarray(model(frames))
    assert out.shape == (2, *size, 3)
    assert out.min() >= 0.0 and out.max() <= 1.0


@pytest.mark.parametrize("size", [(16, 16), (17, 9), (13, 30)])
def test_zero_residual_reproduces_the_centre_frame(size):
    # Exercises the whole colour path: Y of every frame, padding, cropping,
    # recombination with the centre's chroma and the inverse transform.
    model = ks.build_rgb_deblurrer(_zero_residual(ks.build_spn(**TINY_SPN)))
    frames = np.random.rand(1, 5, *size, 3).astype(np.float32)
    np.testing.assert_allclose(np.asarray(model(frames)), frames[:, 2], atol=1e-5)


def test_matches_the_spn_on_padded_luma():
    spn = ks.build_spn(**TINY_SPN)
    model = ks.build_rgb_deblurrer(spn)
    frames = np.random.rand(1, 5, 14, 10, 3).astype(np.float32)
    luma = np.asarray(colour.rgb_to_y(frames))
    padded = np.pad(luma, ((0, 0), (0, 0), (0, 2), (0, 2), (0, 0)), mode="reflect")
    sharp_luma = np.asarray(spn(padded))[:, :14, :10]
    expected = np.clip(np.asarray(colour.replace_luma(frames[:, 2], sharp_luma)), 0, 1)
    np.testing.assert_allclose(np.asarray(model(frames)), expected, atol=1e-5)


def test_grey_input_gives_grey_output():
    model = ks.build_rgb_deblurrer(ks.build_spn(**TINY_SPN))
    grey = np.repeat(np.random.rand(1, 5, 12, 12, 1), 3, axis=-1).astype(np.float32) * 0.8 + 0.1
    out = np.asarray(model(grey))
    assert np.abs(out[..., 0] - out[..., 1]).max() < 1e-5
    assert np.abs(out[..., 0] - out[..., 2]).max() < 1e-5


def test_uint8_io_matches_float_io():
    spn = ks.build_spn(**TINY_SPN)
    as_float = ks.build_rgb_deblurrer(spn)
    as_uint8 = ks.build_rgb_deblurrer(spn, io_dtype="uint8")
    frames = np.random.randint(0, 256, (1, 5, 11, 13, 3), dtype=np.uint8)
    out = np.asarray(as_uint8(frames))
    assert out.dtype == np.uint8 and out.shape == (1, 11, 13, 3)
    expected = np.round(np.asarray(as_float(frames.astype(np.float32) / 255)) * 255)
    assert np.abs(out.astype(int) - expected).max() <= 1  # rounding at .5 boundaries


def test_wrapper_shares_the_spn_weights():
    spn = ks.build_spn(**TINY_SPN)
    model = ks.build_rgb_deblurrer(spn)
    assert model.spn is spn and model.num_frames == 5
    assert len(model.weights) == len(spn.weights)


def test_bad_arguments():
    with pytest.raises(TypeError, match="SPN"):
        ks.build_rgb_deblurrer(ks.build_discriminator())
    with pytest.raises(ValueError, match="io_dtype"):
        ks.build_rgb_deblurrer(ks.build_spn(**TINY_SPN), io_dtype="float16")
