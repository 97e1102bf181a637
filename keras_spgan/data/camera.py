"""A virtual camera filming a still: blurry/sharp clips that look like hand-held video.

One clip is a camera moving over a photograph (pan, zoom, small rotation and
hand-shake), with up to two objects cut from other photographs moving on
their own in front of it. Each blurry frame integrates the scene over its
exposure: the mean of sub-frames in linear light (sRGB decoded), enough
sub-frames that consecutive ones move less than about a pixel. Its sharp
target is the scene from the mean of those sub-frames' camera poses, where
the blur is centred (`target="centroid"`, version 7 of the training set), or
from the mid-exposure pose (`target="mid"`, as DVD's and GoPro's targets are:
the same for a steady pan, up to pixels apart under hand shake, where nothing
in the blurry frame tells which way round the path ran). The
blurry frames then get sensor noise (signal-dependent, in linear light) and
JPEG or MPEG-4 compression at random strengths; targets stay clean.

Motion is drawn per clip:
- the blur length (path length of the image centre during one exposure) is a
  target drawn from none (15%) to `max_blur` pixels, log-uniformly, so mild
  and absent blur are as well covered as strong blur;
- the exposure (fraction of the frame interval) from 0.25 to 1: the same blur
  comes with small or large motion between frames; for a share of the clips
  (`draw_params(..., short_shutter=p)`) a short shutter (down to 0.02): the
  camera moves 2-12 px (`short_shutter_motion`; 2-24 px from version 8 of the
  training set) and objects up to 40 px between frames whatever the
  blur, as in most real video, so that a network cannot read the blur off the
  motion between frames;
- the path is a drift whose direction turns, plus hand-shake (a sum of random
  sinusoids, 0.2-2 cycles per frame), plus rotation and zoom drifts; it is
  rescaled so that the mean blur length over the clip equals the target, and
  varies from frame to frame as real shake does;
- hand jitter (`draw_params(..., hand_jitter=p)`: a share p of the clips): part
  or all of each frame's blur comes from its own short random path during the
  exposure, independent of the motion between frames. Without it, blur always
  comes with as much motion between frames (blur / exposure), and a network
  learns that a still camera means a sharp frame: measured, the stage-2 `spn`
  gained +1.2 dB on such clips and -0.2 dB on the same photo, still camera,
  shaken exposures. A jitter share of 1 is a steady camera with shaky hands.
- where the sub-frames are averaged (`srgb_blur=p`): linear light, as a sensor
  integrates, or for a share p gamma-encoded values, as DVD, GoPro's 'blur'
  and most synthetic benchmarks were made; a user's blurry footage may be
  either, and the two differ at every bright/dark edge.

Noise and compression shares (`noisy`, `compressed`) matter for what the
network keeps: every noisy or compressed input paired with a clean target
teaches it to remove fine texture, which clean footage keeps in its target.

Noise and compression must not change brightness either (`keep_brightness`).
Both do, measured on version 4's flat regions: zero-mean noise in linear light,
clipped to [0, 1] and gamma-encoded, leaves the input up to +7 levels brighter
than its target in the shadows and 1.4-4 darker in the highlights (clipping,
and the concave encoding); OpenCV's MPEG-4 round trip darkens mid-tones and
highlights by 1.7-2.9 levels. A network trained on such pairs learns a tone
curve, not deblurring: the version-4 presets brighten the highlights of clean,
sharp, still held-out photos by 1-2.5 levels and darken their shadows. With
`keep_brightness`, each degraded frame's local mean (a Gaussian of
`BRIGHTNESS_SIGMA` px) is put back to that of the same frame before noise and
compression, which keeps the noise grain and the codec's blocks and ringing.

Everything random comes from the `numpy.random.Generator` passed in.
"""

import dataclasses
import os
import tempfile

import cv2
import numpy as np

from keras_spgan.data.blur import check_target
from keras_spgan.data.frames import to_uint8

FINE_STEPS = 64  # samples of the trajectory per frame interval (to measure path lengths)
# Wide enough to leave the noise and the 8x8 / 16x16 codec blocks alone (their mean over
# the window is what moves back), narrow enough to follow the brightness of flat regions.
BRIGHTNESS_SIGMA = 6.0


def srgb_to_linear(x):
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x):
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * x ** (1 / 2.4) - 0.055)


@dataclasses.dataclass
class ClipParams:
    """What was drawn for one clip (recorded next to the clip)."""

    blur: float  # target mean blur length, pixels
    exposure: float  # fraction of the frame interval
    scale: float  # source pixels per output pixel at t = 0
    shake: float  # share of the motion that is hand-shake rather than drift
    objects: int
    noise: float  # read-noise sigma (linear light)
    compression: str  # "none", "jpeg:<quality>" or "mpeg4"
    gain: float = 1.0  # exposure of the scene (linear light; highlights clip above 1)
    flat_regions: int = 0  # smooth walls / sky painted over the still
    jitter: float = 0.0  # share of the blur from each exposure's own random path (hand jitter)
    blur_space: str = "linear"  # where sub-frames are averaged: "linear" light or gamma-encoded "srgb"
    motion: float = 0.0  # a short shutter: camera motion between frames (px), whatever the blur; 0: blur / exposure
    object_speed: float = 25.0  # the fastest an object may cross the view, pixels per frame
    blur_per_frame: tuple = ()


def _trajectory(rng, num_frames, shake_share):
    """Unscaled camera path: (t, 4) samples of (x, y, angle, log zoom) on a fine grid."""
    t = np.arange(-2 * FINE_STEPS, (num_frames + 2) * FINE_STEPS) / FINE_STEPS
    heading = rng.uniform(0, 2 * np.pi) + rng.normal(0, 0.3) * t  # a slowly turning drift
    drift = np.stack([np.cos(heading), np.sin(heading)], 1)
    drift_pos = np.cumsum(drift, 0) / FINE_STEPS
    shake_pos = np.zeros_like(drift_pos)
    for _ in range(4):
        freq = rng.uniform(0.2, 2.0)
        amp = rng.normal(0, 1, 2) / (2 * np.pi * freq)  # unit velocity amplitude
        shake_pos += amp * np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))[:, None]
    shake_pos /= np.abs(np.diff(shake_pos, axis=0)).sum(1).mean() * FINE_STEPS + 1e-9
    xy = (1 - shake_share) * drift_pos + shake_share * shake_pos
    xy -= xy[len(t) // 2]  # the camera starts (mid-clip) on the centre of the source
    angle = rng.normal(0, 0.004) * t + rng.normal(0, 0.002) * np.sin(2 * np.pi * rng.uniform(0.2, 2.0) * t)
    zoom = (rng.normal(0, 0.01) * t) if rng.random() < 0.3 else np.zeros_like(t)
    return t, np.column_stack([xy, angle, zoom])


def _exposure_lengths(t, path, num_frames, exposure, radius):
    """Mean path length of points within `radius` of the centre over each frame's exposure."""
    lengths = []
    for f in range(num_frames):
        if exposure * FINE_STEPS >= 16:  # the fine grid (every exposure of the sets before version 6)
            p = path[np.abs(t - f) <= exposure / 2]
        else:  # a short shutter spans too few grid steps: the path resampled over it
            times = f + np.linspace(-exposure / 2, exposure / 2, 17)
            p = np.column_stack([np.interp(times, t, path[:, k]) for k in range(path.shape[1])])
        step = np.hypot(*np.diff(p[:, :2], axis=0).T)
        turn = np.abs(np.diff(p[:, 2])) * radius + np.abs(np.diff(p[:, 3])) * radius
        lengths.append(float((step + turn).sum()))
    return np.array(lengths)


def _paint_flat_region(source, rng):
    """A large smooth region (a wall, the sky, a table top) over part of the still: a gentle
    gradient between two colours, often bright, with faint texture and a hard, feathered edge.
    Real footage is full of them, photos of textured scenes much less, and a deblurring
    network that has not seen them paints ringing and checkerboards into them."""
    height, width = source.shape[:2]
    centre = rng.uniform(0, 1, 2) * (width, height)
    radius = rng.uniform(0.1, 0.3) * min(height, width)
    points = centre + rng.uniform(-1, 1, (6, 2)) * radius * rng.uniform(0.5, 2.0, 2)
    mask = np.zeros((height, width), np.float32)
    cv2.fillConvexPoly(mask, cv2.convexHull(points.astype(np.float32)).astype(np.int32), 1.0)
    mask = cv2.GaussianBlur(mask, (0, 0), 0.8)[..., None]
    colours = srgb_to_linear(rng.uniform(0.05, 1.0, (2, 3)) ** 0.5).astype(np.float32)  # biased to bright
    ramp = (np.indices((height, width)).T @ rng.normal(0, 1, 2)).T
    ramp = ((ramp - ramp.min()) / (np.ptp(ramp) + 1e-9))[..., None].astype(np.float32)
    texture = cv2.resize(rng.normal(0, 1, (max(height // 16, 2), max(width // 16, 2), 1)).astype(np.float32),
                         (width, height), interpolation=cv2.INTER_CUBIC)[..., None]
    fill = (colours[0] * (1 - ramp) + colours[1] * ramp) * (1 + rng.uniform(0, 0.03) * texture)
    return (mask * np.clip(fill, 0, 1) + (1 - mask) * source).astype(np.float32)


def _object(rng, source, size, max_speed=25.0):
    """A feathered patch cut from `source` and a velocity (pixels per frame) across the view."""
    height, width = size
    ph, pw = (int(rng.uniform(0.15, 0.4) * min(height, width)) for _ in range(2))
    sh, sw = source.shape[:2]
    top, left = int(rng.integers(0, max(sh - ph, 1))), int(rng.integers(0, max(sw - pw, 1)))
    patch = source[top : top + ph, left : left + pw]
    ph, pw = patch.shape[:2]
    mask = np.zeros((ph, pw), np.float32)
    if rng.random() < 0.5:
        cv2.ellipse(mask, (pw // 2, ph // 2), (max(pw // 2 - 1, 1), max(ph // 2 - 1, 1)),
                    float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
    else:
        points = np.column_stack([rng.uniform(0, pw, 7), rng.uniform(0, ph, 7)]).astype(np.float32)
        cv2.fillConvexPoly(mask, cv2.convexHull(points).astype(np.int32), 1.0)
    mask = cv2.GaussianBlur(mask, (0, 0), 0.7)[..., None]
    start = rng.uniform([0, 0], [width, height])
    speed = rng.uniform(0, max_speed)
    direction = rng.uniform(0, 2 * np.pi)
    velocity = speed * np.array([np.cos(direction), np.sin(direction)])
    return patch, mask, start, velocity


def _composite(image, patch, mask, centre):
    """`patch` over `image` (both linear float32) centred at `centre` (x, y), sub-pixel."""
    ph, pw = patch.shape[:2]
    height, width = image.shape[:2]
    matrix = np.float32([[1, 0, centre[0] - pw / 2], [0, 1, centre[1] - ph / 2]])
    layer = cv2.warpAffine(patch, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    alpha = cv2.warpAffine(mask, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    alpha = alpha[..., None] if alpha.ndim == 2 else alpha
    return alpha * layer + (1 - alpha) * image


def _view(source, pose, origin, scale, size):
    """The source (linear float32) as the camera at `pose` sees it, output pixels (H, W)."""
    height, width = size
    x, y, angle, log_zoom = pose
    s = scale * np.exp(-log_zoom)
    cos, sin = np.cos(angle) * s, np.sin(angle) * s
    cx, cy = origin[0] + x * scale, origin[1] + y * scale
    # Output pixel (u, v) -> source point c + s R (u - w/2, v - h/2).
    matrix = np.float32([[cos, -sin, cx - cos * width / 2 + sin * height / 2],
                         [sin, cos, cy - sin * width / 2 - cos * height / 2]])
    return cv2.warpAffine(source, matrix, (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REFLECT_101)


SHORT_EXPOSURE = 0.02  # of the frame interval: 1/1500 s at 30 fps
SHORT_SHUTTER_MOTION = (2.0, 12.0)  # camera motion between frames, pixels (log-uniform): up to version 7
SHORT_SHUTTER_OBJECT_SPEED = 40.0


def draw_params(rng, max_blur=24.0, blur=None, hand_jitter=0.0, jitter_rng=None, noisy=0.7, compressed=0.7,
                srgb_blur=0.0, short_shutter=0.0, short_shutter_motion=SHORT_SHUTTER_MOTION[1]):
    """Random ClipParams; `blur` fixes the blur length (held-out clips use a grid).

    `noisy` and `compressed` are the shares of clips with sensor noise and with
    compression (MPEG-4 on up to 0.15 of all clips, JPEG on the rest of that share).
    With `hand_jitter` > 0, that share of the clips gets hand jitter, and with
    `srgb_blur` > 0 that share is averaged on gamma-encoded values, both drawn
    from `jitter_rng` so that the rest of the draw is what it is without them; so is the share
    `short_shutter` of clips filmed with a short shutter (see `_short_shutter`), the camera
    moving up to `short_shutter_motion` px between frames."""
    if blur is None:
        blur = 0.0 if rng.random() < 0.15 else float(np.exp(rng.uniform(np.log(1.0), np.log(max_blur))))
    exposure = float(rng.uniform(0.25, 1.0))
    exposure = max(exposure, min(blur / 30.0, 1.0))  # at most ~30 px of motion between frames
    kind = rng.random()
    plain = 1.0 - compressed
    mpeg4 = plain + min(compressed, 0.15)
    compression = "none" if kind < plain else "mpeg4" if kind < mpeg4 else f"jpeg:{int(rng.integers(50, 96))}"
    params = ClipParams(
        blur=float(blur),
        exposure=exposure,
        scale=float(np.exp(rng.uniform(np.log(0.6), np.log(2.0)))),  # mostly down-sampled: sharp targets
        shake=float(rng.uniform(0.0, 1.0)),
        objects=int(rng.choice([0, 0, 1, 2])),
        noise=float(rng.uniform(0.0, 0.012)) if rng.random() < noisy else 0.0,
        compression=compression,
        gain=float(np.exp(rng.uniform(np.log(0.5), np.log(2.5)))) if rng.random() < 0.5 else 1.0,
        flat_regions=int(rng.choice([0, 0, 1, 2])),
        jitter=_draw_jitter(jitter_rng, hand_jitter),
        blur_space="srgb" if srgb_blur and jitter_rng.random() < srgb_blur else "linear",
    )
    if short_shutter and jitter_rng.random() < short_shutter:
        params = _short_shutter(params, jitter_rng, short_shutter_motion)
    return params


def _short_shutter(params, rng, max_motion=SHORT_SHUTTER_MOTION[1]):
    """The same clip filmed with a short shutter: the camera moves 2-`max_motion` px between frames
    whatever its blur, and objects cross the view at up to 40 px per frame with little blur.
    The exposure (0.02-0.25 of the frame interval) blurs a fraction of that motion; the rest
    of the clip's blur is hand jitter during the exposure, so its blur length stays as drawn.

    Without such clips, motion between frames always comes with at least a quarter of it as
    blur (exposure >= 0.25), and a network learns to read the blur off the motion between
    frames instead of off the frame: measured on held-out photos, the version-5 presets lost
    2.5-3.9 dB on sharp-ish frames (blur 2 px) of a camera moving 20 px per frame, where the
    same network given the centre frame alone kept the input's PSNR. Real video is mostly
    shot with short shutters, and blur added to it (camera shake, as the real-footage check
    makes) has nothing to do with its motion."""
    motion = float(np.exp(rng.uniform(np.log(SHORT_SHUTTER_MOTION[0]), np.log(max_motion))))
    exposure = float(np.exp(rng.uniform(np.log(SHORT_EXPOSURE), np.log(0.25))))
    jitter = params.jitter
    if params.blur > 0:  # what the short exposure's motion does not blur is hand jitter during it
        jitter = max(jitter, 1.0 - motion * exposure / params.blur)
        exposure = max(params.blur * (1.0 - jitter) / motion, SHORT_EXPOSURE)
    return dataclasses.replace(params, motion=motion, exposure=exposure, jitter=float(jitter),
                               object_speed=SHORT_SHUTTER_OBJECT_SPEED)


def _draw_jitter(rng, share):
    if not share or rng.random() >= share:
        return 0.0
    return 1.0 if rng.random() < 0.4 else float(rng.uniform(0.3, 1.0))


def _jitter_paths(rng, num_frames, radius, knots=12):
    """One random path per exposure (knots, 4), zero at mid-exposure, unit mean length in pixels
    at the image centre: a random walk on the velocity, as `blur.smooth_trajectory` draws."""
    paths = []
    for _ in range(num_frames):
        velocity = np.cumsum(rng.normal(size=(knots, 2)), axis=0) + rng.normal(size=2) * 2.0
        xy = np.cumsum(velocity, axis=0)
        xy -= [np.interp((knots - 1) / 2, np.arange(knots), column) for column in xy.T]  # mid-exposure
        xy /= np.hypot(*np.diff(xy, axis=0).T).sum() + 1e-9
        angle = rng.normal(0, 0.3) * xy[:, :1] / radius  # a little rotation with it (radians)
        paths.append(np.column_stack([xy, angle, np.zeros((knots, 1))]))
    return paths


def render_clip(still, rng, params, num_frames=10, size=(192, 256), object_sources=(), keep_brightness=False,
                target="mid"):
    """(blurry frames, sharp frames, params) of one clip; frames RGB uint8 (H, W, 3).

    `target`: "mid" (the mid-exposure pose) or "centroid" (the mean pose over the exposure).

    `keep_brightness`: noise and compression leave each frame's local brightness
    as it was (see the module docstring); the random draws are the same either way."""
    check_target(target)
    height, width = size
    radius = 0.25 * min(height, width)  # rotation and zoom measured at this distance from the centre
    t, path = _trajectory(rng, num_frames, params.shake)
    if params.motion:  # a short shutter: the motion between frames is set, the blur follows from it
        path[:, :] *= params.motion / max(_exposure_lengths(t, path, num_frames, 1.0, radius).mean(), 1e-9)
        lengths = _exposure_lengths(t, path, num_frames, params.exposure, radius)
    else:
        lengths = _exposure_lengths(t, path, num_frames, params.exposure, radius)
        drift_blur = params.blur * (1 - params.jitter)
        path[:, :] *= drift_blur / max(lengths.mean(), 1e-9)
        lengths *= drift_blur / max(lengths.mean(), 1e-9)
    jitters = [p * params.blur * params.jitter for p in _jitter_paths(rng, num_frames, radius)] if params.jitter else []
    if jitters:
        lengths = lengths + params.blur * params.jitter  # an upper bound: the two paths may partly cancel
    params.blur_per_frame = tuple(round(float(v), 2) for v in lengths)

    # The source, scaled so that the camera's whole path stays mostly on it.
    source = srgb_to_linear(still.astype(np.float32) / 255.0).astype(np.float32)
    for _ in range(params.flat_regions):
        source = _paint_flat_region(source, rng)
    source = np.minimum(source * params.gain, 1.0)
    need = (2 * (np.abs(path[:, :2]).max(0) + params.blur * params.jitter) + np.array([width, height]) * 1.1
            ) * params.scale
    fit = min(source.shape[1] / need[0], source.shape[0] / need[1])
    if fit < 1:  # enlarge the source rather than look past its edges
        params.scale *= fit
    origin = np.array([source.shape[1] / 2, source.shape[0] / 2])

    objects = []
    for _ in range(params.objects):
        pool = object_sources if len(object_sources) else [still]
        other = pool[int(rng.integers(0, len(pool)))]
        patch, mask, start, velocity = _object(rng, other, size, params.object_speed)
        objects.append((srgb_to_linear(patch.astype(np.float32) / 255.0).astype(np.float32), mask, start, velocity))

    def camera_pose(time, frame=None):
        pose = np.array([np.interp(time, t, path[:, k]) for k in range(4)])
        if jitters and frame is not None:  # this exposure's own hand jitter, zero at mid-exposure
            knots = np.linspace(frame - params.exposure / 2, frame + params.exposure / 2, len(jitters[frame]))
            pose = pose + np.array([np.interp(time, knots, jitters[frame][:, k]) for k in range(4)])
        return pose

    def scene(time, pose):
        image = _view(source, pose, origin, params.scale, size)
        for patch, mask, start, velocity in objects:
            image = _composite(image, patch, mask, start + velocity * time)
        return image

    blurry, undegraded, sharp = [], [], []
    for f in range(num_frames):
        subframes = int(np.clip(np.ceil(lengths[f] + max(np.hypot(*o[3]) * params.exposure for o in objects)
                                        if objects else lengths[f]), 1, 48)) | 1  # odd: the middle is t = f
        times = f + (np.linspace(-0.5, 0.5, subframes) * params.exposure if subframes > 1 else np.zeros(1))
        poses = [camera_pose(time, f) for time in times]
        views = [scene(time, pose) for time, pose in zip(times, poses)]
        if params.blur_space == "srgb":  # as DVD and GoPro's plain 'blur' were made: gamma-encoded frames averaged
            mean = srgb_to_linear(np.mean([linear_to_srgb(view) for view in views], axis=0))
        else:
            mean = np.mean(views, axis=0)
        # centroid: the mean of the poses just averaged, where the blurry frame is
        pose = np.mean(poses, axis=0) if target == "centroid" else camera_pose(float(f))
        sharp.append(to_uint8(linear_to_srgb(scene(float(f), pose))))
        encoded = linear_to_srgb(mean)
        if keep_brightness:
            undegraded.append(encoded)
        if params.noise:
            mean = mean + rng.normal(0, 1, mean.shape) * np.sqrt(params.noise**2 + 0.5 * params.noise * mean)
            encoded = linear_to_srgb(mean)
        blurry.append(to_uint8(encoded))
    blurry = _compress(blurry, params.compression)
    if keep_brightness and (params.noise or params.compression != "none"):
        blurry = [restore_local_mean(frame, reference) for frame, reference in zip(blurry, undegraded)]
    return blurry, sharp, params


def restore_local_mean(degraded, reference, sigma=BRIGHTNESS_SIGMA, rounds=3):
    """`degraded` (uint8) with its local mean (Gaussian of `sigma` px) moved to that of
    `reference` (float in [0, 1], the frame before noise and compression). A few rounds,
    because clipping the shifted frame to [0, 1] takes back part of the shift in the
    deepest shadows and brightest highlights (where some of it then stays: noise
    around black cannot average to black)."""
    degraded = degraded.astype(np.float32) / 255.0
    reference = reference.astype(np.float32)
    shift = np.zeros_like(degraded)
    for _ in range(rounds):
        restored = np.clip(degraded + shift, 0.0, 1.0)
        shift += cv2.GaussianBlur(reference - restored, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101)
    return to_uint8(degraded + shift)


def _compress(frames, compression):
    if compression == "none":
        return frames
    if compression.startswith("jpeg:"):
        quality = int(compression.split(":")[1])
        return [_jpeg(frame, quality) for frame in frames]
    return _mpeg4(frames)


def _jpeg(frame, quality):
    ok, data = cv2.imencode(".jpg", frame[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    return np.ascontiguousarray(cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1])


def _mpeg4(frames):
    """A round trip through OpenCV's MPEG-4 Part 2 encoder (what `deblur` writes by default)."""
    height, width = frames[0].shape[:2]
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "clip.mp4")
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), 30, (width, height))
        if not writer.isOpened():  # no encoder in this OpenCV build: fall back to JPEG
            return [_jpeg(frame, 75) for frame in frames]
        for frame in frames:
            writer.write(np.ascontiguousarray(frame[..., ::-1]))
        writer.release()
        capture = cv2.VideoCapture(path)
        decoded = []
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            decoded.append(np.ascontiguousarray(frame[..., ::-1]))
        capture.release()
    if len(decoded) != len(frames):
        return [_jpeg(frame, 75) for frame in frames]
    return decoded
