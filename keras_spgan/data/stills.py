"""Permissively licensed photographs that wheels on the package registry ship.

The pretrained presets are trained on clips made from these stills (see
`keras_spgan.data.camera` and `keras_spgan.data.training_set`). Each entry
records where the file lives inside its package and the licence that the
package states for it (read from the package's own docstrings / README);
images whose licence the package does not state (skimage's moon, page, logo,
the Middlebury motorcycle) are not used, nor is skimage's clock_motion, which
is itself motion-blurred.

`HELD_OUT` photos are never used for training: they make the validation clips
and the model card's held-out numbers, and the presets' tests restore them.

Files are located with `importlib.util.find_spec`, without importing the
packages (scikit-image, scikit-learn and matplotlib are heavy to import).
"""

import dataclasses
import importlib.util
import os

import cv2
import numpy as np

from keras_spgan.data.frames import FrameError


@dataclasses.dataclass(frozen=True)
class Still:
    name: str
    package: str  # the distribution's import name
    path: str  # inside the package folder
    licence: str
    credit: str

    @property
    def distribution(self):
        return {"skimage": "scikit-image", "sklearn": "scikit-learn"}.get(self.package, self.package)


_CC0 = "CC0 1.0 (public domain dedication)"
_PD = "public domain"
_NKCR = "no known copyright restrictions (as scikit-image states)"

BUNDLED = (
    Still("astronaut", "skimage", "data/astronaut.png", _PD, "NASA, Eileen Collins (scikit-image)"),
    Still("camera", "skimage", "data/camera.png", _CC0, "Lav Varshney (scikit-image)"),
    Still("coffee", "skimage", "data/coffee.png", _CC0, "Rachel Michetti (scikit-image)"),
    Still("chelsea", "skimage", "data/chelsea.png", _CC0, "Stefan van der Walt (scikit-image)"),
    Still("rocket", "skimage", "data/rocket.jpg", _PD, "SpaceX, DSCOVR launch (scikit-image)"),
    Still("brick", "skimage", "data/brick.png", _CC0, "CC0Textures Bricks25 (scikit-image)"),
    Still("grass", "skimage", "data/grass.png", _CC0, "CC0Textures (scikit-image)"),
    Still("gravel", "skimage", "data/gravel.png", _CC0, "CC0Textures Gravel04 (scikit-image)"),
    Still("coins", "skimage", "data/coins.png", _NKCR, "Brooklyn Museum collection (scikit-image)"),
    Still("hubble_deep_field", "skimage", "data/hubble_deep_field.jpg", _PD, "NASA / HubbleSite (scikit-image)"),
    Still("immunohistochemistry", "skimage", "data/ihc.png", _NKCR, "CMMI (scikit-image)"),
    Still("retina", "skimage", "data/retina.jpg", _CC0, "Mikael Häggström, Wikimedia Commons (scikit-image)"),
    Still("cell", "skimage", "data/cell.png", _CC0, "scikit-image"),
    Still("text", "skimage", "data/text.png", _PD, "Wikipedia File:Corner.png (scikit-image)"),
    Still("grace_hopper", "matplotlib", "mpl-data/sample_data/grace_hopper.jpg",
          "public domain (work of the U.S. Navy)", "U.S. Navy photograph (matplotlib sample data)"),
    Still("china", "sklearn", "datasets/images/china.jpg", "CC BY 2.0", "danielbuechele on Flickr (scikit-learn)"),
    Still("flower", "sklearn", "datasets/images/flower.jpg", "CC BY 2.0", "vultilion on Flickr (scikit-learn)"),
)

# Whole photos kept out of training: one animal, one indoor scene, one close-up.
HELD_OUT = ("chelsea", "coffee", "flower")


def package_dir(package):
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return list(spec.submodule_search_locations)[0]


def still_path(still):
    """The file's path, or None when its package is not installed."""
    root = package_dir(still.package)
    if root is None:
        return None
    path = os.path.join(root, still.path)
    return path if os.path.isfile(path) else None


def available(names=None):
    """The bundled stills whose packages are installed (all of `names` if given, else every one)."""
    by_name = {s.name: s for s in BUNDLED}
    unknown = sorted(set(names or ()) - set(by_name))
    if unknown:
        raise FrameError(f"unknown still(s) {unknown}; bundled: {', '.join(sorted(by_name))}")
    chosen = [by_name[n] for n in names] if names else list(BUNDLED)
    found = [s for s in chosen if still_path(s)]
    if names and len(found) < len(chosen):
        missing = sorted({s.distribution for s in chosen if not still_path(s)})
        raise FrameError(f"the stills {sorted(set(names) - {s.name for s in found})} need {', '.join(missing)}: "
                         f'pip install "keras-spgan[stills]"')
    return found


def read_still(path):
    """Any image file -> RGB uint8 (grey images become three equal channels)."""
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise FrameError(f"{path}: not a readable image")
    if image.dtype != np.uint8:
        image = (image.astype(np.float64) / np.iinfo(image.dtype).max * 255.0).round().astype(np.uint8)
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=2)
    if image.shape[2] == 4:
        image = image[..., :3]
    return np.ascontiguousarray(image[..., ::-1])


def load(still):
    return read_still(still_path(still))
