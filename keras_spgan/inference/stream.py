"""Deblurring a stream of frames of any length and size in bounded memory.

    for sharp in deblur_frames(frames, "runs/spn"):   # any iterable of RGB uint8 frames
        ...                                           # one output per input, in order

At most the window (T frames), a batch of windows and a few frames queued
between the stages are held at any time, never the video. Decoding runs in a
thread of its own, so reading the next frames overlaps with the model; TF
and OpenCV release the GIL while they work.
"""

import collections
import concurrent.futures
import queue
import logging
import threading

import numpy as np

from keras_spgan.align import align_window, check_alignment
from keras_spgan.data.frames import FrameError, to_uint8
from keras_spgan.inference.runners import Runner, load_runner
from keras_spgan.inference.tiling import deblur_tiled
from keras_spgan.inference.video_io import MIN_SIDE, to_rgb

_END = object()


log = logging.getLogger(__name__)

def as_runner(model, precision="float32", self_ensemble=False):
    """A Runner from a path or preset name, a Runner, or a Keras SPN / SPGAN / RGBDeblurrer;
    None is the default preset (`keras_spgan.presets.default_preset`). `self_ensemble`: the
    mean over the four flips of every window (runners.SelfEnsembleRunner, 4x the compute)."""
    if self_ensemble:
        from keras_spgan.inference.runners import SelfEnsembleRunner

        return SelfEnsembleRunner(as_runner(model, precision))
    if isinstance(model, Runner):
        return model
    if model is None:
        from keras_spgan.presets import default_preset

        model = default_preset()
    if isinstance(model, str):
        return load_runner(model, precision=precision)
    from keras_spgan.inference.runners import KerasRunner
    from keras_spgan.models.loading import as_generator

    return KerasRunner(as_generator(model), precision=precision)


def resolved_alignment(runner, alignment=None):
    """The alignment `deblur_pairs` applies: `alignment` when given, else the runner's own
    (how its model was trained; "none" for a runner that does not say)."""
    return getattr(runner, "alignment", "none") if alignment is None else check_alignment(alignment, "alignment")


def sliding_windows(frames, num_frames):
    """Yields (centre frame, window of `num_frames` frames) for every frame of `frames`,
    replicating the first and last frame at the ends; holds one window at a time."""
    radius = num_frames // 2
    frames = iter(frames)
    first = next(frames, _END)
    if first is _END:
        return
    window = collections.deque([first] * (radius + 1), maxlen=num_frames)
    total, emitted, last = 1, 0, first
    for frame in frames:
        window.append(frame)
        total, last = total + 1, frame
        if len(window) == num_frames:
            emitted += 1
            yield window[radius], list(window)
    while emitted < total:
        window.append(last)
        if len(window) == num_frames:
            emitted += 1
            yield window[radius], list(window)


def _checked(frames):
    """RGB uint8 frames of one size; grey / RGBA / 16-bit arrays are converted."""
    size = None
    for index, frame in enumerate(frames):
        frame, _ = to_rgb(frame, f"frame {index}")
        if size is None:
            size = frame.shape[:2]
            if min(size) < MIN_SIDE:
                raise FrameError(f"frame {index}: {size[1]}x{size[0]} is too small (at least 4x4)")
        elif frame.shape[:2] != size:
            raise FrameError(
                f"frame {index}: size {frame.shape[1]}x{frame.shape[0]} differs from the first frame's "
                f"{size[1]}x{size[0]} (the size must not change within a video)"
            )
        yield frame


def _read_ahead(frames, depth):
    """Iterates `frames` in a background thread, `depth` frames ahead; re-raises its errors here."""
    buffer = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce():
        try:
            for frame in frames:
                while not stop.is_set():
                    try:
                        buffer.put(frame, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put(_END)
        except BaseException as error:  # handed to the consumer
            buffer.put(error)

    thread = threading.Thread(target=produce, name="keras-spgan-decode", daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)


def deblur_pairs(frames, model, *, batch=1, tile=None, overlap=64, precision="float32", in_flight=1,
                 self_ensemble=False, alignment=None):
    """Yields (input frame, deblurred frame), both RGB uint8, for every frame of `frames`.
    `in_flight` > 1 runs that many batches concurrently (for models behind a server).
    `alignment`: how each window is aligned before the model (`keras_spgan.align`); None: as
    the model was trained (a Keras model's `alignment`; "none" for exported models)."""
    runner = as_runner(model, precision, self_ensemble)
    alignment = resolved_alignment(runner, alignment)
    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    tile = (tile, tile) if isinstance(tile, int) else tile
    if tile and (min(tile) < MIN_SIDE or overlap < 0 or overlap >= min(tile)):
        raise ValueError(f"tile must be at least {MIN_SIDE} pixels and 0 <= overlap < tile, got {tile}, {overlap}")
    fixed = runner.frame_size
    if fixed and overlap >= min(fixed):
        clipped = min(fixed) // 2 // 4 * 4
        log.warning("overlap %d is too large for the model's fixed %dx%d input: tiles overlap by %d pixels",
                    overlap, fixed[1], fixed[0], clipped)
        overlap = clipped
    if fixed and runner.kind == "tflite":
        batch = 1  # TFLite models are exported for one window at a time

    def to_model(windows):  # uint8 -> [0, 1], one tile at a time: a float 4K window alone is 500 MB
        return runner(windows.astype(np.float32) / 255.0)

    def run(windows):
        if fixed and windows.shape[2:4] != tuple(fixed) or tile and (
                windows.shape[2] > tile[0] or windows.shape[3] > tile[1]):
            return deblur_tiled(to_model, windows, tile or fixed, overlap, fixed_size=fixed)
        return to_model(windows)

    def batches():
        centres, windows = [], []
        source = _read_ahead(_checked(frames), depth=runner.num_frames + 2 * batch)
        for centre, window in sliding_windows(source, runner.num_frames):
            centres.append(centre)
            # On whole frames, before any tiling: the flow sees all of the motion.
            windows.append(align_window(np.stack(window), alignment))
            if len(windows) == batch:
                yield centres, np.stack(windows)
                centres, windows = [], []
        if windows:
            yield centres, np.stack(windows)

    if in_flight <= 1:
        for centres, windows in batches():
            yield from zip(centres, to_uint8(run(windows)))
        return
    # Several batches at once (a model behind a server): results still come back in order.
    with concurrent.futures.ThreadPoolExecutor(in_flight) as pool:
        pending = collections.deque()
        for centres, windows in batches():
            pending.append((centres, pool.submit(run, windows)))
            if len(pending) == in_flight:
                done_centres, future = pending.popleft()
                yield from zip(done_centres, to_uint8(future.result()))
        while pending:
            done_centres, future = pending.popleft()
            yield from zip(done_centres, to_uint8(future.result()))


def deblur_frames(frames, model=None, *, batch=1, tile=None, overlap=64, precision="float32", self_ensemble=False,
                  alignment=None):
    """Yields the deblurred frame (RGB uint8) for every frame of `frames`, in order.

    `frames`: any iterable of RGB uint8 (H, W, 3) arrays (grey, RGBA and 16-bit
    are converted). `model`: a preset name (None: the default preset), a path
    (training dir, .keras, SavedModel, .tflite, .onnx), a Runner, or a Keras SPN. `tile`: process tiles of this side (or
    (h, w)) overlapping by `overlap` pixels, to bound memory on large frames;
    models with a fixed input size (TFLite) are tiled to their size anyway.
    `precision`: float32, or bfloat16 (about 2x faster on CPUs with AVX512-BF16,
    0.003 dB from float32 in benchmarks/inference.py) / float16 (GPUs), for
    Keras models. `self_ensemble`: average the outputs of the four flips of every
    window (4x slower; see runners.SelfEnsembleRunner). `alignment`: "flow" warps every
    window's frames onto its centre frame first (`keras_spgan.align`), "none" feeds them as
    they are; None (default): as the model was trained.
    """
    for _, sharp in deblur_pairs(frames, model, batch=batch, tile=tile, overlap=overlap, precision=precision,
                                 self_ensemble=self_ensemble, alignment=alignment):
        yield sharp
