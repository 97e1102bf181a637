"""PSNR and SSIM with an explicit evaluation protocol.

Video-deblurring papers disagree on the protocol (Y or RGB, border crop, value
range), which moves results by tenths of a dB, so every knob is an argument:

    space        "y": BT.601 luma (MATLAB rgb2ycbcr) of RGB input; 1-channel
                 input is taken as Y already. "rgb": all three channels.
    crop_border  pixels removed from every side before measuring.
    data_range   1.0 for [0, 1] data, 255.0 for [0, 255] data.

Functions return one value per image (shape (B,), or () for a single image);
average per video, then over videos, as the paper's tables do. SSIM is the
Gaussian-window SSIM of Wang et al. (11 x 11, sigma 1.5, K1 0.01, K2 0.03,
'valid' filtering), as MATLAB's reference `ssim_index`. Both are computed in
float64: `tf.image.ssim` always works in float32, and its variance terms
(E[x^2] - E[x]^2) then lose ~2e-4 of SSIM on flat regions, which shows at the
three decimals papers report.
"""

import keras
import numpy as np
import tensorflow as tf

from keras_spgan import colour
from keras_spgan.layers import PACKAGE

SPACES = ("y", "rgb")
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03


def _gaussian_window(size=SSIM_WINDOW, sigma=SSIM_SIGMA):
    coords = np.arange(size) - size // 2
    g = np.exp(-(coords**2) / (2.0 * sigma**2))
    window = np.outer(g, g)
    return window / window.sum()


def _prepare(images, space, crop_border, data_range):
    images = tf.cast(tf.convert_to_tensor(images), tf.float64) / float(data_range)
    if images.shape.rank not in (3, 4):
        raise ValueError(f"images must be (H, W, C) or (B, H, W, C), got shape {images.shape}")
    channels = images.shape[-1]
    if space not in SPACES:
        raise ValueError(f"space must be one of {SPACES}, got {space!r}")
    if space == "y" and channels == 3:
        images = colour.rgb_to_y(images)
    elif space == "y" and channels != 1:
        raise ValueError(f"space='y' needs 1 (Y) or 3 (RGB) channels, got {channels}")
    elif space == "rgb" and channels != 3:
        raise ValueError(f"space='rgb' needs 3 channels, got {channels}")
    if crop_border < 0:
        raise ValueError(f"crop_border must be >= 0, got {crop_border}")
    if crop_border:
        images = images[..., crop_border:-crop_border, crop_border:-crop_border, :]
    return images


def _pair(y_true, y_pred, space, crop_border, data_range):
    a = _prepare(y_true, space, crop_border, data_range)
    b = _prepare(y_pred, space, crop_border, data_range)
    if a.shape != b.shape:
        raise ValueError(f"y_true and y_pred differ in shape: {a.shape} vs {b.shape}")
    return a, b


def psnr(y_true, y_pred, *, space="y", crop_border=0, data_range=1.0):
    """Peak signal-to-noise ratio in dB per image; +inf for identical images."""
    a, b = _pair(y_true, y_pred, space, crop_border, data_range)
    mse = tf.reduce_mean(tf.square(a - b), axis=[-3, -2, -1])
    return tf.cast(10.0 * tf.math.log(1.0 / mse) / tf.math.log(tf.constant(10.0, tf.float64)), tf.float32)


def ssim(y_true, y_pred, *, space="y", crop_border=0, data_range=1.0):
    """Structural similarity per image (mean over channels for RGB)."""
    a, b = _pair(y_true, y_pred, space, crop_border, data_range)
    if a.shape[-3] is not None and min(a.shape[-3], a.shape[-2]) < 11:
        raise ValueError(f"SSIM needs images of at least 11 x 11 after cropping, got {tuple(a.shape[-3:-1])}")
    single = a.shape.rank == 3
    if single:
        a, b = a[None], b[None]
    channels = a.shape[-1]
    window = np.tile(_gaussian_window()[:, :, None, None], (1, 1, channels, 1))
    window = tf.constant(window, tf.float64)

    def local_mean(x):
        return tf.nn.depthwise_conv2d(x, window, strides=[1, 1, 1, 1], padding="VALID")

    c1, c2 = SSIM_K1**2, SSIM_K2**2
    mu_a, mu_b = local_mean(a), local_mean(b)
    var_a = local_mean(a * a) - mu_a**2
    var_b = local_mean(b * b) - mu_b**2
    cov = local_mean(a * b) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    values = tf.cast(tf.reduce_mean(ssim_map, axis=[1, 2, 3]), tf.float32)
    return values[0] if single else values


class _ImageMetric(keras.metrics.Mean):
    """Mean of a per-image metric; synchronised across replicas like any Keras metric."""

    fn = None

    def __init__(self, name, space="y", crop_border=0, data_range=1.0, **kwargs):
        super().__init__(name=name, **kwargs)
        self.space = space
        self.crop_border = int(crop_border)
        self.data_range = float(data_range)

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = type(self).fn(
            y_true, tf.clip_by_value(tf.cast(y_pred, tf.float32), 0.0, self.data_range),
            space=self.space, crop_border=self.crop_border, data_range=self.data_range,
        )
        return super().update_state(values, sample_weight=sample_weight)

    def get_config(self):
        return {**super().get_config(), "space": self.space, "crop_border": self.crop_border,
                "data_range": self.data_range}


@keras.saving.register_keras_serializable(package=PACKAGE)
class PSNR(_ImageMetric):
    """Keras metric: mean PSNR (dB) of clipped predictions. Arguments as `psnr`."""

    fn = staticmethod(psnr)

    def __init__(self, name="psnr", **kwargs):
        super().__init__(name=name, **kwargs)


@keras.saving.register_keras_serializable(package=PACKAGE)
class SSIM(_ImageMetric):
    """Keras metric: mean SSIM of clipped predictions. Arguments as `ssim`."""

    fn = staticmethod(ssim)

    def __init__(self, name="ssim", **kwargs):
        super().__init__(name=name, **kwargs)
