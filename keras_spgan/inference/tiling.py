"""Deblurring frames tile by tile, with overlapping tiles blended so no seam shows.

The SPN is fully convolutional (BatchNorm is a per-pixel affine map at
inference), so a tile computes what the full frame computes, except within
the network's receptive field of the tile's border, provided the tile starts
on the network's down-sampling grid (multiples of 4). Tiles overlap by at
least `overlap` pixels; each output pixel is a weighted mean of the tiles
covering it, with weights that ignore each tile's outer margin and fade in
across the overlap, so no seam shows. Memory is bounded by the tile size,
whatever the frame size. The full-size SPN sees about 60 pixels around each
output pixel: an overlap of 64 or more keeps tiled output close to untiled.
"""

import numpy as np


ALIGN = 4  # the SPN's total stride: tiles must start on its down-sampling grid


def tile_spans(length, tile, overlap, fixed=False):
    """(start, stop) of tiles covering [0, length), overlapping by at least `overlap`.

    Starts are multiples of ALIGN, so every tile sees the full frame's
    down-sampling grid (a shifted tile would compute something else
    everywhere, not only at its border). The last tile is cut at `length`,
    except with `fixed` (a model of one input size), where it runs past it
    and the caller pads the frame.
    """
    if tile >= length:
        return [(0, tile if fixed else length)]
    stride = max(ALIGN, (tile - overlap) // ALIGN * ALIGN)
    spans, start = [], 0
    while True:
        spans.append((start, start + tile if fixed else min(start + tile, length)))
        if start + tile >= length:
            return spans
        start += stride


MARGIN_FRACTION = 0.4


def _ramp(length, overlap, low_inside, high_inside):
    """Blending weights along one axis of a tile.

    At an edge inside the frame (shared with a neighbouring tile) the weight
    is 0 over the outer 40% of the overlap, where the tile lacked context (its
    convolutions saw zero padding instead of the neighbour's pixels), then
    rises linearly to 1 across the middle 20%; at the frame's own border it
    stays 1. Neighbours overlap by at least `overlap`, so some weight is
    always positive. (Measured on a small trained SPN, 64-pixel tiles with a
    32-pixel overlap: a 0.25 fraction left up to 3 levels of difference from
    the untiled output, 0.4 up to 2 and 0.007 on average.)
    """
    i = np.arange(length, dtype=np.float32) + 0.5
    weight = np.ones(length, np.float32)
    if overlap > 0:
        margin = MARGIN_FRACTION * overlap
        rise = max(overlap - 2 * margin, 1.0)
        if low_inside:
            weight = np.minimum(weight, np.clip((i - margin) / rise, 0.0, 1.0))
        if high_inside:
            weight = np.minimum(weight, np.clip((length - i - margin) / rise, 0.0, 1.0))
    return weight


def deblur_tiled(run, windows, tile, overlap, fixed_size=None):
    """Applies `run` ((B, T, h, w, 3) -> (B, h, w, 3)) to `windows` (B, T, H, W, 3) tile by tile.

    `tile` is (th, tw), rounded down to multiples of ALIGN. With `fixed_size`
    (a model that only takes one size) every tile is exactly that size and the
    frames are mirror-padded at the bottom / right as far as the tiles reach.
    """
    batch, _, height, width, _ = windows.shape
    if fixed_size:
        tile_h, tile_w = fixed_size
    else:
        tile_h, tile_w = (max(ALIGN, t // ALIGN * ALIGN) for t in tile)
    rows = tile_spans(height, tile_h, overlap, fixed=bool(fixed_size))
    cols = tile_spans(width, tile_w, overlap, fixed=bool(fixed_size))
    padded_h, padded_w = max(height, rows[-1][1]), max(width, cols[-1][1])
    if (padded_h, padded_w) != (height, width):
        windows = np.pad(windows, ((0, 0), (0, 0), (0, padded_h - height), (0, padded_w - width), (0, 0)),
                         mode="symmetric")
    if len(rows) == 1 and len(cols) == 1:
        return run(windows)[:, :height, :width]
    total = np.zeros((batch, padded_h, padded_w, 3), np.float32)
    weight = np.zeros((padded_h, padded_w, 1), np.float32)
    for top, bottom in rows:
        for left, right in cols:
            ramp = (_ramp(bottom - top, overlap, top > 0, bottom < height)[:, None, None]
                    * _ramp(right - left, overlap, left > 0, right < width)[None, :, None])
            total[:, top:bottom, left:right] += run(windows[:, :, top:bottom, left:right]) * ramp
            weight[top:bottom, left:right] += ramp
    assert weight.min() > 0, "tiles must overlap by at least `overlap`"
    return (total / weight)[:, :height, :width]
