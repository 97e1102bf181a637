"""Frame files: natural ordering, cheap header checks, decoding.

Validation must look at every frame of a dataset before training starts, so
it reads headers, not pixels: the size from the JPEG SOF / PNG IHDR segment,
and truncation from the end-of-image marker (JPEG FFD9, PNG IEND chunk).
That checks all of DVD's 13k frames in seconds instead of minutes.
"""

import os
import re
import struct

import cv2
import numpy as np

from keras_spgan.errors import KerasSpganError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov", ".m4v", ".webm")
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class FrameError(KerasSpganError, ValueError):
    """A frame file that cannot be used; the message names the file."""


def natural_key(name):
    """Sort key: 'frame2.png' < 'frame10.png'."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def list_frames(folder):
    """Image files of `folder` in natural order (not recursive)."""
    names = [n for n in os.listdir(folder) if n.lower().endswith(IMAGE_EXTENSIONS)]
    return [os.path.join(folder, n) for n in sorted(names, key=natural_key)]


def _jpeg_size(data, path):
    if data[-2:] != b"\xff\xd9":
        raise FrameError(f"{path}: truncated JPEG (no end-of-image marker)")
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise FrameError(f"{path}: corrupt JPEG (bad marker at byte {pos})")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return height, width
        pos += 2 + length
    raise FrameError(f"{path}: corrupt JPEG (no frame header)")


def _png_size(data, path):
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise FrameError(f"{path}: corrupt PNG (no IHDR header)")
    if data[-12:-8] != b"\x00\x00\x00\x00" or data[-8:-4] != b"IEND":
        raise FrameError(f"{path}: truncated PNG (no IEND chunk)")
    width, height = struct.unpack(">II", data[16:24])
    return height, width


def probe(path):
    """(height, width) of an image file, from its header; raises FrameError if unusable."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise FrameError(f"{path}: cannot read ({e.strerror})") from None
    if data[:2] == b"\xff\xd8":
        return _jpeg_size(data, path)
    if data[:8] == _PNG_SIGNATURE:
        return _png_size(data, path)
    raise FrameError(f"{path}: not a JPEG or PNG image")


def read_rgb(path):
    """Decodes an image file to RGB uint8 (H, W, 3); grey and alpha are converted."""
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise FrameError(f"{path}: cannot decode image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def to_uint8(image):
    """Values in [0, 1] as 8-bit: clipped, rounded half to even. The one rounding every output
    (deblur, evaluate, exports' parity, the serving client, synthesized data) goes through."""
    return np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def write_rgb(path, image, jpeg_quality=95):
    """Writes RGB uint8 to `path` (format from the extension). Encoded in memory and written by
    Python, so that a full disk is an OSError naming its cause (cv2.imwrite only returns False)."""
    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] if path.lower().endswith((".jpg", ".jpeg")) else []
    ok, data = cv2.imencode(os.path.splitext(path)[1] or ".png", cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR),
                            params)
    if not ok:
        raise FrameError(f"{path}: cannot encode an image of shape {np.shape(image)} in this format")
    with open(path, "wb") as f:
        f.write(data.tobytes())
