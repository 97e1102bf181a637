"""RGB in, RGB out: the colour handling around an SPN (paper section 3.1).

    frames (B, T, H, W, 3) RGB, float in [0, 1] or uint8
      -> Y of every frame (BT.601, MATLAB rgb2ycbcr)
      -> reflect-pad H, W to a multiple of 4 -> SPN -> crop back to H x W
      -> recombine with the Cb/Cr of the blurry centre frame -> RGB, clipped
    -> centre frame (B, H, W, 3), same dtype as the input
Any frame size works, portrait and odd sizes included.
"""

import keras

from keras_spgan.archs.spn import SPN
from keras_spgan.layers import PACKAGE, CropLike, QuantizeToUint8, ReflectPadToMultiple, ReplaceLuma, RgbToY, SelectFrame

IO_DTYPES = ("float32", "uint8")


@keras.saving.register_keras_serializable(package=PACKAGE)
class RGBDeblurrer(keras.Model):
    """Args:
        spn: a trained (or fresh) `SPN`; its weights are shared, not copied.
        io_dtype: "float32" (values in [0, 1]) or "uint8" (0..255) for input and output.
    """

    def __init__(self, spn, io_dtype="float32", **kwargs):
        if not isinstance(spn, SPN):
            raise TypeError(f"spn must be a keras_spgan SPN, got {type(spn).__name__}")
        if io_dtype not in IO_DTYPES:
            raise ValueError(f"io_dtype must be one of {IO_DTYPES}, got {io_dtype!r}")
        frames = keras.Input((spn.num_frames, None, None, 3), dtype=io_dtype, name="frames")
        outputs = rgb_outputs(frames, spn, spn.num_frames, io_dtype)
        kwargs.setdefault("name", f"rgb_{spn.name}")
        super().__init__(inputs=frames, outputs=outputs, **kwargs)
        self.spn = spn
        self.io_dtype = io_dtype

    @property
    def num_frames(self):
        return self.spn.num_frames

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "spn": keras.saving.serialize_keras_object(self.spn),
            "io_dtype": self.io_dtype,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["spn"] = keras.saving.deserialize_keras_object(config["spn"])
        return cls(**config)


def rgb_outputs(frames, generator, num_frames, io_dtype="float32"):
    """The RGB graph of the module docstring around any Y -> Y `generator`
    (an SPN or its folded form), from a `frames` input of dtype `io_dtype`."""
    if io_dtype not in IO_DTYPES:
        raise ValueError(f"io_dtype must be one of {IO_DTYPES}, got {io_dtype!r}")
    rgb = keras.layers.Rescaling(1.0 / 255.0, name="to_unit_range")(frames) if io_dtype == "uint8" else frames
    luma = RgbToY(name="luma")(rgb)
    padded = ReflectPadToMultiple(4, name="pad")(luma)
    sharp_luma = generator(padded)
    centre = SelectFrame(num_frames // 2, name="centre_rgb")(rgb)
    sharp_luma = CropLike(name="crop")([sharp_luma, centre])
    outputs = ReplaceLuma(name="to_rgb")([centre, sharp_luma])
    if io_dtype == "uint8":
        outputs = QuantizeToUint8(name="to_uint8")(outputs)
    return outputs


def build_rgb_deblurrer(spn, io_dtype="float32", **kwargs):
    """Wraps an SPN into an RGB -> RGB model (see the module docstring)."""
    return RGBDeblurrer(spn, io_dtype=io_dtype, **kwargs)
