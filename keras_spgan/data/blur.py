"""Blur synthesis: make (blurry, sharp) training pairs from sharp footage.

Two models of how a blurry frame comes about:

* `average_frames`: the exposure of a slow camera as the mean of N consecutive
  frames of a fast one. This is how DVD (240 fps) and GoPro were made. With
  `gamma` the mean is taken on (approximately) linear light, as GoPro's
  `blur_gamma` variant does: x**gamma, average, then **(1 / gamma).
* `shake`: for ordinary-frame-rate footage or stills, the exposure as the mean
  of sub-pixel warps of one sharp frame along a random smooth camera
  trajectory (translation + small rotation), optionally with an object that
  moves on its own during the exposure. The sharp target is the mid-exposure
  sub-frame, so the pair is aligned the way DVD's are, or (`target="centroid"`)
  the frame warped to the mean pose, where the blur is centred: under shake the
  two are up to pixels apart, and only the second can be told from the blurry
  frame (the presets' training set uses it from its version 7).

Images are RGB uint8 (H, W, 3); randomness comes from a `numpy.random.Generator`.
"""

import cv2
import numpy as np

from keras_spgan.data.frames import to_uint8




TARGETS = ("mid", "centroid")  # where a pair's sharp frame is: mid-exposure, or the mean pose


def check_target(target):
    if target not in TARGETS:
        raise ValueError(f"target must be 'mid' or 'centroid', got {target!r}")


def average_frames(frames, gamma=None):
    """Mean of consecutive frames (uint8) -> blurry frame (uint8)."""
    stack = np.stack([np.asarray(f, np.float64) / 255.0 for f in frames])
    if gamma:
        return to_uint8(np.mean(stack**gamma, axis=0) ** (1.0 / gamma))
    return to_uint8(stack.mean(axis=0))


def add_noise(image, sigma, rng):
    """Additive Gaussian noise with standard deviation `sigma` on the [0, 1] scale."""
    if sigma <= 0:
        return image
    return to_uint8(np.asarray(image, np.float64) / 255.0 + rng.normal(0.0, sigma, np.shape(image)))


def smooth_trajectory(rng, steps, max_shift, max_angle):
    """A smooth random camera path of `steps` poses (dx, dy, angle in degrees), zero at mid-exposure.

    A random walk on the velocity (so the path curves but does not jitter),
    rescaled so that the largest displacement from the middle pose is
    `max_shift` pixels and the largest rotation `max_angle` degrees.
    """
    velocity = np.cumsum(rng.normal(size=(steps, 3)), axis=0) + rng.normal(size=3) * 2.0
    path = np.cumsum(velocity, axis=0)
    path -= path[steps // 2]
    scale = np.abs(path).max(axis=0)
    scale[scale == 0] = 1.0
    return path / scale * np.array([max_shift, max_shift, max_angle]) * rng.uniform(0.3, 1.0, 3)


def _warp(image, dx, dy, angle):
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2.0, height / 2.0), angle, 1.0)
    matrix[:, 2] += (dx, dy)
    return cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def object_sprite(image, rng):
    """An elliptical patch of the image itself, to move across it."""
    height, width = image.shape[:2]
    h, w = int(height * rng.uniform(0.15, 0.3)), int(width * rng.uniform(0.15, 0.3))
    top, left = rng.integers(0, height - h), rng.integers(0, width - w)
    patch = image[top : top + h, left : left + w].astype(np.float64)
    patch = 255.0 - patch if rng.random() < 0.5 else patch  # make it stand out
    mask = np.zeros((h, w), np.float64)
    cv2.ellipse(mask, (w // 2, h // 2), (w // 2 - 1, h // 2 - 1), 0, 0, 360, 1.0, -1)
    return patch, mask[..., None], (top, left)


def paste(image, patch, mask, top, left):
    out = image.astype(np.float64).copy()
    height, width = image.shape[:2]
    h, w = patch.shape[:2]
    top, left = int(round(top)), int(round(left))
    y0, x0, y1, x1 = max(top, 0), max(left, 0), min(top + h, height), min(left + w, width)
    if y1 <= y0 or x1 <= x0:
        return out
    p = patch[y0 - top : y1 - top, x0 - left : x1 - left]
    m = mask[y0 - top : y1 - top, x0 - left : x1 - left]
    out[y0:y1, x0:x1] = m * p + (1 - m) * out[y0:y1, x0:x1]
    return out


def shake(image, rng, steps=15, max_shift=6.0, max_angle=1.0, object_motion=0.0, gamma=None, target="mid"):
    """(blurry, sharp) from one sharp frame: camera shake, plus an object moving
    `object_motion` pixels during the exposure if > 0. `target`: "mid" (the mid-exposure
    sub-frame) or "centroid" (the frame at the mean pose; the object at mid-exposure either way)."""
    check_target(target)
    trajectory = smooth_trajectory(rng, steps, max_shift, max_angle)
    sprite = object_sprite(image, rng) if object_motion > 0 else None
    direction = rng.normal(size=2)
    direction /= np.linalg.norm(direction) + 1e-12
    def scene_at(t):
        scene = image.astype(np.float64)
        if sprite is not None:
            patch, mask, (top, left) = sprite
            offset = (t - steps // 2) / max(steps - 1, 1) * object_motion * direction
            scene = paste(scene, patch, mask, top + offset[0], left + offset[1])
        return scene

    subframes = [to_uint8(_warp(scene_at(t), dx, dy, angle) / 255.0) for t, (dx, dy, angle) in enumerate(trajectory)]
    if target == "centroid":
        return average_frames(subframes, gamma), to_uint8(_warp(scene_at(steps // 2), *trajectory.mean(0)) / 255.0)
    return average_frames(subframes, gamma), subframes[steps // 2]
