"""ITU-R BT.601 colour conversion, numerically identical to MATLAB's `rgb2ycbcr`.

All functions take data with channels last, float in [0, 1] or integer in
0..255 (uint8 frames are scaled by 1/255), and work on NumPy arrays and
TensorFlow tensors alike (through `keras.ops`). Y is in the
"studio swing" range [16/255, 235/255], Cb/Cr in [16/255, 240/255], exactly as
MATLAB returns for `double` input; this is the Y the paper's network sees and
the Y on which video-deblurring papers report PSNR.
"""

import numpy as np
from keras import ops

# MATLAB rgb2ycbcr: ycbcr = offset + M @ rgb, for rgb in [0, 1].
RGB_TO_YCBCR = np.array(
    [
        [65.481, 128.553, 24.966],
        [-37.797, -74.203, 112.0],
        [112.0, -93.786, -18.214],
    ]
) / 255.0
YCBCR_OFFSET = np.array([16.0, 128.0, 128.0]) / 255.0
YCBCR_TO_RGB = np.linalg.inv(RGB_TO_YCBCR)


def _as_float(x):
    x = ops.convert_to_tensor(x)
    if "float" not in str(x.dtype):  # integer frames are 0..255
        x = ops.cast(x, "float32") / 255.0
    return x


def rgb_to_ycbcr(rgb):
    """RGB [..., 3] in [0, 1] -> YCbCr [..., 3] (MATLAB `rgb2ycbcr`, scaled to [0, 1])."""
    rgb = _as_float(rgb)
    matrix = ops.convert_to_tensor(RGB_TO_YCBCR.T, dtype=rgb.dtype)
    offset = ops.convert_to_tensor(YCBCR_OFFSET, dtype=rgb.dtype)
    return ops.matmul(rgb, matrix) + offset


def rgb_to_y(rgb):
    """RGB [..., 3] in [0, 1] -> Y [..., 1]: the luma the network works on."""
    rgb = _as_float(rgb)
    weights = ops.convert_to_tensor(RGB_TO_YCBCR[:1].T, dtype=rgb.dtype)
    return ops.matmul(rgb, weights) + YCBCR_OFFSET[0]


def ycbcr_to_rgb(ycbcr):
    """YCbCr [..., 3] -> RGB [..., 3] (MATLAB `ycbcr2rgb`), not clipped."""
    ycbcr = _as_float(ycbcr)
    matrix = ops.convert_to_tensor(YCBCR_TO_RGB.T, dtype=ycbcr.dtype)
    offset = ops.convert_to_tensor(YCBCR_OFFSET, dtype=ycbcr.dtype)
    return ops.matmul(ycbcr - offset, matrix)


def replace_luma(rgb, luma):
    """Recombine a new Y [..., 1] with the Cb/Cr of `rgb` [..., 3]; returns RGB.

    This is how the SPN's output becomes a colour frame: the network only
    restores Y, the chroma of the blurry centre frame is kept.
    """
    ycbcr = rgb_to_ycbcr(rgb)
    luma = ops.cast(_as_float(luma), ycbcr.dtype)
    return ycbcr_to_rgb(ops.concatenate([luma, ycbcr[..., 1:]], axis=-1))
