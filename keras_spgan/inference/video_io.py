"""Frame sources (a video file or a folder of frames) and sinks, one frame at a time.

Sources check what they read: frames are RGB uint8 (grey, 16-bit and RGBA
frames are converted, and the conversion is reported once), every frame has
the first one's size, and a video that decodes to fewer frames than its
header promises is reported as truncated. Sinks write under a temporary name
(see `keras_spgan.files`); `close()` renames, `abort()` removes.
"""

import os

import cv2
import numpy as np

from keras_spgan.data.frames import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, FrameError, list_frames
from keras_spgan.data.video import iter_video_rgb, probe
from keras_spgan.files import publish, remove, temporary_name

# OpenCV's FFmpeg backend (opencv-python-headless) writes these without extra libraries.
FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "XVID"}
MIN_SIDE = 4  # the network pads by reflection to a multiple of 4, which needs 4 pixels


def is_video_path(path):
    return path.lower().endswith(VIDEO_EXTENSIONS)


def to_rgb(frame, where):
    """(H, W, 3) uint8 RGB from grey, RGB or RGBA arrays (uint8 or uint16); names `where` if impossible.
    Returns (frame, what was converted or None)."""
    frame = np.asarray(frame)
    note = None
    if frame.dtype == np.uint16:
        frame, note = (frame / 257.0).round().astype(np.uint8), "16-bit converted to 8-bit"
    elif frame.dtype != np.uint8:
        raise FrameError(f"{where}: frames must be uint8 (0..255), got {frame.dtype}")
    if frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 1):
        return np.repeat(frame.reshape(*frame.shape[:2], 1), 3, axis=2), note or "grey frames converted to RGB"
    if frame.ndim == 3 and frame.shape[2] == 4:
        return np.ascontiguousarray(frame[..., :3]), note or "alpha channel dropped"
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise FrameError(f"{where}: expected an (H, W, 3) RGB frame, got shape {frame.shape}")
    return frame, note


class FrameSource:
    """Frames of a video file or of a folder of images, in order, checked."""

    def __init__(self, path):
        self.path = path
        self.notes = []
        if os.path.isdir(path):
            self.kind = "frames"
            self.files = list_frames(path)
            if not self.files:
                raise FrameError(f"{path}: no frames ({', '.join(IMAGE_EXTENSIONS)}) in this folder")
            self.count, self.fps = len(self.files), None
            first = cv2.imread(self.files[0], cv2.IMREAD_UNCHANGED)
            if first is None:
                raise FrameError(f"{self.files[0]}: cannot decode image")
            self.size = first.shape[:2]
        elif os.path.isfile(path):
            if not is_video_path(path):
                raise FrameError(f"{path}: not a video file ({', '.join(VIDEO_EXTENSIONS)}) or a folder of frames")
            self.kind, self.files = "video", None
            info = probe(path)
            self.fps, self.count, self.size = info.fps, info.count, info.size
        else:
            raise FrameError(f"{path}: no such file or folder")
        if min(self.size) < MIN_SIDE:
            raise FrameError(f"{path}: frames of {self.size[1]}x{self.size[0]} are too small (at least 4x4)")

    @property
    def names(self):
        """Output frame names: the input's for a folder, numbered for a video."""
        if self.files:
            return [os.path.basename(f) for f in self.files]
        return None

    def _raw(self):
        if self.kind == "frames":
            for path in self.files:
                image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
                if image is None:
                    raise FrameError(f"{path}: cannot decode image (unreadable or truncated)")
                if image.ndim == 3 and image.shape[2] in (3, 4):  # OpenCV gives BGR(A)
                    image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB if image.shape[2] == 3 else cv2.COLOR_BGRA2RGBA)
                yield path, image
            return
        decoded = 0
        for frame in iter_video_rgb(self.path):
            decoded += 1
            yield f"{self.path} frame {decoded - 1}", frame
        if decoded == 0:
            raise FrameError(f"{self.path}: no frames could be decoded (empty or corrupt video)")
        if self.count and decoded < self.count:
            raise FrameError(f"{self.path}: truncated: decoded {decoded} of the {self.count} frames its header lists")

    def __iter__(self):
        for where, raw in self._raw():
            frame, note = to_rgb(raw, where)
            if note and note not in self.notes:
                self.notes.append(note)
            if frame.shape[:2] != tuple(self.size):
                raise FrameError(
                    f"{where}: frame size {frame.shape[1]}x{frame.shape[0]} differs from the first frame's "
                    f"{self.size[1]}x{self.size[0]} (the size must not change within a video)"
                )
            yield frame


class FrameSink:
    """Writes RGB uint8 frames to a video file (by extension) or a folder, atomically."""

    def __init__(self, path, size, fps=None, names=None):
        self.path = path
        self.partial = temporary_name(path)
        self.count = 0
        self.names = names
        height, width = size
        if is_video_path(path):
            ext = os.path.splitext(path)[1].lower()
            if ext not in FOURCC:
                raise FrameError(f"{path}: cannot write {ext} videos; use one of {', '.join(sorted(FOURCC))}")
            self.writer = cv2.VideoWriter(self.partial, cv2.VideoWriter_fourcc(*FOURCC[ext]), fps or 30.0,
                                          (width, height))
            if not self.writer.isOpened():
                self.abort()
                raise FrameError(f"{path}: cannot create this video file (is the folder writable?)")
        else:
            self.writer = None
            os.makedirs(self.partial)

    def write(self, frame):
        if self.writer is not None:
            self.writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        else:
            name = self.names[self.count] if self.names else f"{self.count:06d}.png"
            if not cv2.imwrite(os.path.join(self.partial, name), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)):
                raise FrameError(f"{os.path.join(self.path, name)}: cannot write frame")
        self.count += 1

    def close(self):
        """Finishes the output, checks it, and only then gives it its final name (an
        existing OUT stays as it was until a complete new one replaces it)."""
        if self.writer is not None:
            self.writer.release()
            self.writer = None
            self._check_video()
        publish(self.partial, self.path)

    def _check_video(self):
        """OpenCV's VideoWriter reports no write errors (a full disk gave a corrupt file and
        status 0): read the header back and count the frames."""
        try:
            frames = probe(self.partial).count or 0
        except FrameError:  # not even a readable header
            frames = 0
        if frames != self.count:
            self.abort()
            raise FrameError(f"{self.path}: the video could not be written completely ({frames} of {self.count} "
                             "frames readable back; is the disk full?); nothing was written")

    def abort(self):
        if getattr(self, "writer", None) is not None:
            self.writer.release()
        remove(self.partial)
