"""Training wrappers (what `fit` drives), as opposed to the networks in `archs`."""

from keras_spgan.models.spgan import SPGAN
