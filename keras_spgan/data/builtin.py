"""Named datasets that keras-spgan makes itself: `--data_dir builtin:NAME`.

    builtin:sample   the small procedural sample (`keras_spgan.data.sample`): the default
    builtin:stills   the presets' training set, clips filmed by a virtual camera over
                     permissively licensed photos (`keras_spgan.data.training_set`)
    builtin:stills-v8  the same, by its version (what training recipes name, so that they
                     still mean this set when `builtin:stills` moves on)
    builtin:stills-v7  that set with slower short-shutter pans (2-12 px per frame) on a
                     smaller share of the clips (the presets up to 2026-12-04)
    builtin:stills-v6  that set with sharp targets at mid-exposure (the `spn-v6` recipe)
    builtin:stills-v5  that set before short shutters (the `spgan` preset's stage 2)
    builtin:stills-v4  that set before noise and compression kept the frames' brightness
                     (the `spn` preset's stage 4 and the first `spgan`)
    builtin:stills-v3  that set before its noise / compression shares were lowered and
                     gamma-space blur added (the `spn` preset's stage 3)
    builtin:stills-v2  that set before hand jitter (the `spn` preset's stages 1 and 2)

Both are built on first use into the cache and reused after that.
"""

from keras_spgan.data.layouts import DatasetError

PREFIX = "builtin:"
NAMES = ("sample", "stills", "stills-v8", "stills-v7", "stills-v6", "stills-v5", "stills-v4", "stills-v3", "stills-v2")


def is_builtin(data_dir):
    return isinstance(data_dir, str) and data_dir.startswith(PREFIX)


def check(data_dir):
    """Raises DatasetError for an unknown builtin: name."""
    if is_builtin(data_dir) and data_dir[len(PREFIX):] not in NAMES:
        raise DatasetError(f"unknown built-in dataset {data_dir!r}; known: "
                           f"{', '.join(PREFIX + n for n in NAMES)}")


def resolve_data_dir(data_dir=None):
    """A dataset folder: `data_dir` itself, or the built-in one it names (None: the sample)."""
    if data_dir is None:
        data_dir = PREFIX + "sample"
    if not is_builtin(data_dir):
        return data_dir
    check(data_dir)
    name = data_dir[len(PREFIX):]
    if name == "sample":
        from keras_spgan.data.sample import sample_data_dir

        return sample_data_dir()
    from keras_spgan.data.training_set import VERSIONS, stills_data_dir

    version = name.partition("-v")[2]
    return stills_data_dir(**VERSIONS[int(version)]) if version else stills_data_dir()
