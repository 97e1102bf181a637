"""Running trained models: any exported form behind one interface (see `runners`)."""

from keras_spgan.inference.runners import KerasRunner, Runner, load_runner
