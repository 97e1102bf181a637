import numpy as np
import pytest

import keras_spgan as ks
from keras_spgan import colour


@pytest.mark.parametrize(
    "rgb_uint8, ycbcr_uint8",
    [
        # MATLAB: rgb2ycbcr(uint8([...])) for these colours.
        ([0, 0, 0], [16, 128, 128]),
        ([255, 255, 255], [235, 128, 128]),
        ([255, 0, 0], [81, 90, 240]),
        ([0, 255, 0], [145, 54, 34]),
        ([0, 0, 255], [41, 240, 110]),
        ([128, 64, 32], [84, 104, 158]),
    ],
)
def test_ycbcr_matches_matlab_reference(rgb_uint8, ycbcr_uint8):
    rgb = np.array(rgb_uint8, np.float64) / 255.0
    ycbcr = np.asarray(colour.rgb_to_ycbcr(rgb)) * 255.0
    np.testing.assert_array_equal(np.round(ycbcr).astype(int), ycbcr_uint8)
    y = np.asarray(colour.rgb_to_y(rgb)) * 255.0
    assert round(float(y[0])) == ycbcr_uint8[0]


def test_round_trip_is_exact_to_far_below_one_grey_level(rng):
    rgb = rng.random((4, 16, 16, 3)).astype("float32")
    back = np.asarray(colour.ycbcr_to_rgb(colour.rgb_to_ycbcr(rgb)))
    assert np.abs(back - rgb).max() < 1e-5  # requirement: < 1/255


def test_replace_luma_with_own_luma_is_identity(rng):
    rgb = rng.random((2, 8, 8, 3)).astype("float32")
    out = np.asarray(colour.replace_luma(rgb, colour.rgb_to_y(rgb)))
    assert np.abs(out - rgb).max() < 1e-5


def test_grey_stays_grey_when_luma_changes(rng):
    grey = np.repeat(rng.random((8, 8, 1)), 3, axis=-1).astype("float32")
    new_luma = rng.uniform(16 / 255, 235 / 255, (8, 8, 1)).astype("float32")
    out = np.asarray(colour.replace_luma(grey, new_luma))
    assert np.abs(out[..., 0] - out[..., 1]).max() < 1e-6
    assert np.abs(out[..., 1] - out[..., 2]).max() < 1e-6
    np.testing.assert_allclose(np.asarray(colour.rgb_to_y(out)), new_luma, atol=1e-6)


def test_uint8_input_is_read_as_0_to_255(rng):
    rgb = rng.integers(0, 256, (4, 4, 3)).astype(np.uint8)
    as_float = rgb.astype(np.float32) / 255
    np.testing.assert_allclose(np.asarray(colour.rgb_to_y(rgb)), np.asarray(colour.rgb_to_y(as_float)), atol=1e-6)
    np.testing.assert_allclose(np.asarray(colour.rgb_to_ycbcr(rgb)), np.asarray(colour.rgb_to_ycbcr(as_float)),
                               atol=1e-6)
    assert ks.colour is colour
