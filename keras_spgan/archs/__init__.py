"""The networks: SPN (generator), its RGB wrapper, and the SPGAN discriminator."""

from keras_spgan.archs.discriminator import Discriminator, build_discriminator
from keras_spgan.archs.rgb import RGBDeblurrer, build_rgb_deblurrer
from keras_spgan.archs.spn import ABLATION_SCALES, PAPER_SCALES, SPN, build_spn
