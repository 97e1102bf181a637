"""Deblur a video or a folder of frames:

    keras-spgan deblur IN OUT                         (the default pretrained preset)
    keras-spgan deblur IN OUT --model runs/spn        (or: python -m keras_spgan.deblur IN OUT --model ...)

IN is a video file (.mp4, .avi, .mkv, ...) or a folder of frames; so is OUT
(a video if it has a video extension, else a folder of frames, named as IN's
frames or numbered .png). Every input frame gets one output frame (the first
and last frames are repeated to fill the window at the ends); size, frame
count and fps are kept. --model is a preset name (spn, spgan; default: the
default preset), a training model dir or .keras file, a SavedModel dir, a
.tflite or an .onnx file.

Memory is bounded by the window and --batch, not by the video's length, and
by --tile on large frames (1080p, 4K). OUT is written under a temporary name
and renamed when complete: an error or Ctrl-C leaves no partial output.
Video files are re-encoded (mp4v / MJPG / XVID through OpenCV), which is
lossy; write a folder of .png frames for exact results.
"""

import os
import queue
import sys
import threading
import time

import numpy as np

from keras_spgan import cli
from keras_spgan.align import ALIGNMENTS
from keras_spgan.data.frames import FrameError
from keras_spgan.errors import ConfigError
from keras_spgan.inference.video_io import FOURCC, FrameSink, FrameSource, is_video_path
from keras_spgan.progress import ProgressLine

_END = object()


def check_paths(in_path, out_path, overwrite=False):
    """Refuses, before any work, an OUT that would replace IN or an existing output, or that cannot be written."""
    if not os.path.exists(in_path):
        raise FrameError(f"{in_path}: no such file or folder")
    if os.path.abspath(in_path) == os.path.abspath(out_path) or (
            os.path.exists(out_path) and os.path.samefile(in_path, out_path)):
        raise FrameError(f"{out_path}: the output must not be the input")
    if os.path.lexists(out_path) and not overwrite:
        raise FrameError(f"{out_path}: already exists (pass --overwrite to replace it)")
    ext = os.path.splitext(out_path)[1].lower()
    if is_video_path(out_path) and ext not in FOURCC:
        raise FrameError(f"{out_path}: cannot write {ext} videos; use one of {', '.join(sorted(FOURCC))}")
    parent = os.path.dirname(os.path.abspath(out_path))
    existing = parent
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise FrameError(f"{out_path}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise FrameError(f"{out_path}: cannot write in {existing} (permission denied)")
    os.makedirs(parent, exist_ok=True)


class _Writer:
    """Encodes frames in a thread of its own, so encoding overlaps with the model."""

    def __init__(self, sink, progress, depth=4):
        self.sink, self.progress = sink, progress
        self.queue = queue.Queue(maxsize=depth)
        self.error = None
        self.cancelled = False
        self.thread = threading.Thread(target=self._run, name="keras-spgan-encode", daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            frame = self.queue.get()
            if frame is _END:
                return
            if self.error is None and not self.cancelled:
                try:
                    self.sink.write(frame)
                    self.progress.update()
                except BaseException as error:  # reported by put() / finish()
                    self.error = error

    def put(self, frame):
        if self.error is not None:
            raise self.error
        self.queue.put(frame)

    def finish(self):
        self.queue.put(_END)
        self.thread.join()
        if self.error is not None:
            raise self.error

    def cancel(self):
        """Drops the frames still queued and waits for the thread, so nothing is written after it."""
        self.cancelled = True
        self.queue.put(_END)
        self.thread.join()


def deblur_video(in_path, out_path, model=None, *, batch=1, tile=None, overlap=64, side_by_side=False, fps=None,
                 overwrite=False, progress=True, precision="float32", in_flight=1, self_ensemble=False,
                 alignment=None):
    """Deblurs the video or frame folder `in_path` into `out_path` (see the module docstring)
    with `model`: a preset name or path (None: the default preset), a Runner or a Keras SPN.
    `alignment`: None aligns the windows as the model was trained; "flow" / "none" force it
    (an exported model does not know how it was trained: pass "flow" for an aligned preset's).

    Returns a summary: frames, size, fps, seconds, frames per second, and notes
    on converted input (grey, RGBA or 16-bit frames).
    """
    from keras_spgan.inference.stream import as_runner, deblur_pairs, resolved_alignment

    check_paths(in_path, out_path, overwrite)
    source = FrameSource(in_path)
    runner = as_runner(model, precision, self_ensemble)
    alignment = resolved_alignment(runner, alignment)
    height, width = source.size
    fps = fps or source.fps or 30.0
    names = source.names if not is_video_path(out_path) else None
    out_size = (height, width * 2 if side_by_side else width)
    sink = FrameSink(out_path, out_size, fps=fps, names=names)
    bar = ProgressLine(source.count, enabled=progress)
    writer = _Writer(sink, bar)
    start = time.time()
    try:
        for blurry, sharp in deblur_pairs(source, runner, batch=batch, tile=tile, overlap=overlap,
                                          in_flight=in_flight, alignment=alignment):
            writer.put(np.concatenate([blurry, sharp], axis=1) if side_by_side else sharp)
        writer.finish()
        if sink.count == 0:
            raise FrameError(f"{in_path}: no frames")
        sink.close()
    except BaseException:
        writer.cancel()
        sink.abort()
        raise
    finally:
        bar.close()
    seconds = time.time() - start
    return {
        "input": in_path, "output": out_path, "model": getattr(runner, "source", None), "backend": runner.kind,
        "alignment": alignment, "frames": sink.count, "size": list(out_size), "input_size": [height, width],
        "fps": fps, "seconds": seconds,
        "frames_per_second": sink.count / seconds if seconds else None, "notes": list(source.notes),
    }


def add_arguments(p):
    p.add_argument("input", metavar="IN", help="video file or folder of frames")
    p.add_argument("output", metavar="OUT", help="video file (by extension) or folder of frames")
    p.add_argument("--model", default=None, help="a preset name (spn, spgan; default: the default preset), a training "
                   "model dir, .keras, SavedModel dir, .tflite or .onnx")
    p.add_argument("--batch", type=int, default=1, help="windows per model call (default 1)")
    p.add_argument("--tile", type=int, default=0, help="process SIZE x SIZE tiles (0: whole frames)")
    p.add_argument("--overlap", type=int, default=64, help="pixels tiles overlap by, blended (default 64)")
    p.add_argument("--precision", choices=("float32", "bfloat16", "float16"), default="float32",
                   help="Keras models: bfloat16 is about 2x faster on CPUs with AVX512-BF16, float16 on GPUs")
    p.add_argument("--self_ensemble", action="store_true",
                   help="average the outputs of the four flips of every window: 4x slower, fewer invented details")
    p.add_argument("--alignment", choices=ALIGNMENTS, default=None,
                   help="warp each window's frames onto its centre frame by optical flow before the model (flow) or "
                        "not (none); default: as the model was trained (Keras models and presets know; give flow "
                        "for an exported model of a preset trained aligned)")
    p.add_argument("--side_by_side", action="store_true", help="write input | output side by side")
    p.add_argument("--fps", type=float, default=None, help="output fps (default: the input's, or 30 for frames)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUT")
    p.add_argument("--quiet", action="store_true", help="no progress line")


def run(args):
    from keras_spgan.models.loading import ModelLoadError
    from keras_spgan.presets import PresetError

    for flag, value, low in (("batch", args.batch, 1), ("overlap", args.overlap, 0), ("tile", args.tile, 0)):
        if value < low:
            raise ConfigError(flag, f"must be at least {low}, got {value}")
    if args.tile and (args.tile < 4 or args.overlap >= args.tile):
        raise ConfigError("tile", f"must be at least 4 and larger than --overlap ({args.overlap}), got {args.tile}")
    try:
        summary = deblur_video(args.input, args.output, args.model, batch=args.batch, tile=args.tile or None,
                               overlap=args.overlap, side_by_side=args.side_by_side, fps=args.fps,
                               overwrite=args.overwrite, progress=not args.quiet, precision=args.precision,
                               self_ensemble=args.self_ensemble, alignment=args.alignment)
    except (ModelLoadError, PresetError) as error:
        raise ConfigError("model", str(error)) from None
    except KeyboardInterrupt:
        print("interrupted: no output written", file=sys.stderr)
        return 130
    for note in summary["notes"]:
        print(f"note: {note}", file=sys.stderr)
    print(f"wrote {summary['output']}: {summary['frames']} frames of {summary['size'][1]}x{summary['size'][0]} "
          f"at {summary['fps']:g} fps ({summary['frames_per_second']:.2f} frames/s, {summary['backend']}"
          f"{', windows aligned by optical flow' if summary['alignment'] == 'flow' else ''})")
    return 0


def main(argv=None):
    """`keras-spgan deblur ...` (argv without the command name)."""
    return cli.main(["deblur", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
