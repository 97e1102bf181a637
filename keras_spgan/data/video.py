"""Reading and writing video files through OpenCV (the TF video ops of tensorflow-io do not load)."""

import cv2

from keras_spgan.data.frames import FrameError


def iter_video_rgb(path):
    """Yields the frames of a video file as RGB uint8 arrays, one at a time."""
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        raise FrameError(f"{path}: cannot open video")
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()

