"""Flow alignment of a window's frames onto its centre frame, before the network sees them.

    from keras_spgan.align import align_window
    aligned = align_window(window)      # (T, H, W, 3) uint8 or float; frame T // 2 unchanged

Why: the SPN fuses its frames pixel by pixel. Where something moves many pixels between frames
(a fast pan with a short shutter, riders crossing a still scene), the neighbours' content lands
on the wrong pixels and the networks trained to deblur strongly ghost it: the `spn_strong` preset
loses 2 dB on average on the fast pans and 3.8 dB on the bikes clip of real footage with the
frames as filmed. Warped onto the centre frame by optical flow, the neighbours carry the same
scene at the same place, blurred differently, which is what a multi-frame deblurrer can use;
with the same weights the fast pans go to +0.6 dB and every real clip gains
(benchmarks/results/alignment.json).

The flow is OpenCV's DIS (dense inverse search, its "medium" preset) from the centre frame to
each neighbour, on luma, computed on the whole frame; each neighbour is sampled along it with
bilinear interpolation, the border replicated. It runs on the CPU, outside the network, so a
preset trained on aligned windows records it (`SPN(alignment="flow")`) and every Keras path
(deblur, evaluate, training's pipelines) applies it; exported models (SavedModel, TFLite, ONNX)
take windows aligned by the caller (`align_window`, or `keras-spgan client deblur --alignment flow`);
`deblur` and `evaluate` read an export's report, which holds the network's config.

Training only: `align_window(..., flow_errors=p, rng=rng)` gives a share p of the neighbours local
flow errors (`flow_error_field`), so that a network trained on aligned windows meets what the
flow does to real footage, where it misses non-rigid and occluding motion (riders crossing a
street), and learns to check a neighbour against the centre frame rather than trust it.
Measured: networks fine-tuned on aligned windows whose flow never misses (the training set's
rigid objects, which DIS follows) ghost such footage by up to 5 dB.
"""

import numpy as np

ALIGNMENTS = ("none", "flow")


def _flow_estimator():
    """A new DIS object for every window: calc() changes the object for the frames after a small
    one (it lowers its finest scale for good), so a reused object aligns the same window otherwise
    after it has seen a small frame (measured: up to 54 levels apart). Creating one costs microseconds."""
    import cv2

    return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)


def check_alignment(alignment, name="alignment"):
    if alignment not in ALIGNMENTS:
        raise ValueError(f"{name} must be one of {ALIGNMENTS}, got {alignment!r}")
    return alignment


def _luma_uint8(frame):
    import cv2

    if frame.dtype != np.uint8:
        frame = (np.clip(frame, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) if frame.shape[-1] == 3 else frame[..., 0]


# Flow errors (training): blobs of a wrong displacement, the size of a person or a car in a
# 192x256 frame, displaced as far as DIS misses riders crossing at 20 px per frame.
FLOW_ERROR_BLOBS = (1, 3)
FLOW_ERROR_SIGMA_PX = (6.0, 32.0)
FLOW_ERROR_SHIFT_PX = (2.0, 24.0)


def flow_error_field(shape, rng):
    """A local error (H, W, 2) float32 to add to a flow: 1-3 Gaussian blobs (sigma 6-32 px) of a
    wrong displacement (2-24 px, any direction; both log-uniform), zero far from them."""
    height, width = shape
    rows, cols = np.arange(height, dtype=np.float32), np.arange(width, dtype=np.float32)
    field = np.zeros((height, width, 2), np.float32)
    for _ in range(int(rng.integers(FLOW_ERROR_BLOBS[0], FLOW_ERROR_BLOBS[1] + 1))):
        centre = rng.uniform(0, 1, 2) * (width, height)
        sigma = np.exp(rng.uniform(*np.log(FLOW_ERROR_SIGMA_PX)))
        shift = np.exp(rng.uniform(*np.log(FLOW_ERROR_SHIFT_PX)))
        direction = rng.uniform(0, 2 * np.pi)
        # A Gaussian is separable: the outer product of its row and column profiles.
        weight = np.outer(np.exp(-((rows - centre[1]) ** 2) / (2 * sigma**2)),
                          np.exp(-((cols - centre[0]) ** 2) / (2 * sigma**2))).astype(np.float32)
        field += weight[..., None] * np.float32([np.cos(direction), np.sin(direction)]) * np.float32(shift)
    return field


def check_flow_errors(share, name="flow_errors"):
    if not 0 <= share <= 1:
        raise ValueError(f"{name} must be in [0, 1], got {share}")
    return share


def align_window(window, alignment="flow", flow_errors=0.0, rng=None):
    """`window` (T, H, W, C) (C = 3 RGB or 1 luma; uint8, or float in [0, 1]) with every frame
    warped onto frame T // 2 along the optical flow; same shape and dtype. "none": unchanged.

    `flow_errors` (training only): the share of the neighbours whose flow gets a local error
    (`flow_error_field`, drawn from the numpy Generator `rng`) before the warp."""
    import cv2

    check_alignment(alignment)
    check_flow_errors(flow_errors)
    if flow_errors and rng is None:
        raise ValueError("flow_errors needs an rng (numpy.random.Generator)")
    window = np.asarray(window)
    if window.ndim != 4 or window.shape[-1] not in (1, 3):
        raise ValueError(f"expects a window (T, H, W, 1 or 3), got shape {window.shape}")
    if alignment == "none" or window.shape[0] == 1:
        return window
    centre = window.shape[0] // 2
    lumas = [_luma_uint8(frame) for frame in window]
    height, width = lumas[centre].shape
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    aligned = window.copy()
    estimator = _flow_estimator()
    for t, frame in enumerate(window):
        if t == centre or np.array_equal(lumas[t], lumas[centre]):
            continue  # the centre itself, or a replicated end of the video
        flow = estimator.calc(lumas[centre], lumas[t], None)
        if flow_errors and rng.random() < flow_errors:
            flow = flow + flow_error_field((height, width), rng)
        source = frame if frame.dtype in (np.uint8, np.float32) else frame.astype(np.float32)
        warped = cv2.remap(source, cols + flow[..., 0], rows + flow[..., 1], cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
        aligned[t] = warped.reshape(frame.shape)
    return aligned


def align_windows(windows, alignment="flow", flow_errors=0.0, rng=None):
    """A batch (B, T, H, W, C) of windows, each aligned by `align_window` (its flow errors drawn in turn from `rng`)."""
    windows = np.asarray(windows)
    if alignment == "none":
        return windows
    return np.stack([align_window(window, alignment, flow_errors, rng) for window in windows])
