"""Reading video files, one frame at a time: the one place the project decodes video.

PyAV (FFmpeg) rather than OpenCV's VideoCapture: when a stream changes resolution mid-way,
OpenCV rescales every frame to the first one's size without a word (measured on an MJPEG AVI
whose frames go from 64x48 to 128x96: OpenCV returned six 64x48 frames), which would hide the
change; PyAV gives each frame as it was decoded, so readers can refuse it. OpenCV still writes
videos (keras_spgan.inference.video_io). tensorflow-io's video ops do not load with TF 2.21.
"""

import dataclasses

import numpy as np

from keras_spgan.data.frames import FrameError


@dataclasses.dataclass
class VideoInfo:
    fps: float | None  # None when the container does not say
    count: int | None  # frames the header lists; None when it does not say
    size: tuple  # (height, width) of the stream as declared


def _open(path):
    import av

    try:
        container = av.open(path)
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as error:
        raise FrameError(f"{path}: cannot open video (unreadable, truncated or not a video): {error}") from None
    if not container.streams.video:
        container.close()
        raise FrameError(f"{path}: no video stream")
    return container


def probe(path):
    """The header's frame rate, frame count and frame size."""
    with _open(path) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.base_rate
        return VideoInfo(fps=float(rate) if rate else None, count=int(stream.frames) or None,
                         size=(int(stream.codec_context.height), int(stream.codec_context.width)))


def iter_video_rgb(path):
    """Yields the frames of a video file as RGB uint8 (H, W, 3) arrays, one at a time, each at
    the size it was decoded at."""
    import av

    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # frame and slice threads, as FFmpeg picks
        try:
            for frame in container.decode(stream):
                yield np.ascontiguousarray(frame.to_ndarray(format="rgb24"))
        except av.error.FFmpegError as error:
            raise FrameError(f"{path}: cannot decode the video after its first frames: {error}") from None
