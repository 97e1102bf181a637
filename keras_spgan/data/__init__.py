"""Datasets: layouts (DVD, GoPro, frames, pairs), tf.data pipelines, blur synthesis, sample data."""

from keras_spgan.data.layouts import (
    DATA_FORMATS,
    DVD_TEST_VIDEOS,
    Clip,
    DatasetError,
    default_cache_dir,
    detect_format,
    load_clips,
)
from keras_spgan.data.pipeline import (
    evaluation_dataset,
    num_training_windows,
    training_dataset,
    validation_dataset,
    window_indices,
)
from keras_spgan.data.builtin import resolve_data_dir
from keras_spgan.data.sample import sample_data_dir
