"""Small dataset trees for the tests; frames encode what they are in their pixels.

R = 20 * frame index (+ 5 for sharp frames), G = row, B = column (mod 256):
a window's frames, its target and every crop or flip can be checked exactly.
"""

import json
import os

import cv2
import numpy as np


def encoded_frame(index, height, width, sharp=False):
    rows, cols = np.indices((height, width))
    red = np.full((height, width), 20 * index + (5 if sharp else 0))
    return np.stack([red, rows % 256, cols % 256], axis=-1).astype(np.uint8)


def write_frames(folder, count, height=40, width=36, sharp=False, ext=".png", names=None):
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i in range(count):
        name = names[i] if names else f"{i:05d}{ext}"
        path = os.path.join(folder, name)
        cv2.imwrite(path, cv2.cvtColor(encoded_frame(i, height, width, sharp), cv2.COLOR_RGB2BGR))
        paths.append(path)
    return paths


def make_dvd(root, videos=("IMG_0030", "train_a", "train_b"), count=8, ext=".png", **size):
    for video in videos:
        base = os.path.join(root, "quantitative_datasets", video)
        write_frames(os.path.join(base, "input"), count, ext=ext, **size)
        write_frames(os.path.join(base, "GT"), count, sharp=True, ext=ext, **size)
    return root


def make_gopro(root, count=6):
    for split, sequences in (("train", ("GOPR0372_07_00", "GOPR0374_11_00")), ("test", ("GOPR0384_11_00",))):
        for sequence in sequences:
            base = os.path.join(root, split, sequence)
            write_frames(os.path.join(base, "blur"), count)
            write_frames(os.path.join(base, "blur_gamma"), count)
            write_frames(os.path.join(base, "sharp"), count, sharp=True)
    return root


def make_frames(root, clips=("a", "b", "c"), count=7, test=None):
    for clip in clips:
        write_frames(os.path.join(root, "blurry", clip), count)
        write_frames(os.path.join(root, "sharp", clip), count, sharp=True)
    if test is not None:
        with open(os.path.join(root, "split.json"), "w") as f:
            json.dump({"test": list(test)}, f)
    return root


def write_video(path, count, height=32, width=48, sharp=False):
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (width, height))
    assert writer.isOpened(), "OpenCV cannot write MJPG/AVI here"
    for i in range(count):
        writer.write(cv2.cvtColor(encoded_frame(i, height, width, sharp), cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def tree_listing(root):
    return sorted((os.path.relpath(os.path.join(d, f), root), os.path.getsize(os.path.join(d, f)))
                  for d, _, files in os.walk(root) for f in files)
