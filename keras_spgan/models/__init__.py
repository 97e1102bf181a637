"""Training wrappers (what `fit` drives), as opposed to the networks in `archs`."""

from keras_spgan.models.spgan import SPGAN
from keras_spgan.models.loading import ModelLoadError, as_generator, load_generator, load_model
