import os

import cv2
import numpy as np
import pytest
import tensorflow as tf

from keras_spgan import colour
from keras_spgan.data import evaluation_dataset, load_clips, num_training_windows, training_dataset, window_indices
from tests import data_trees


@pytest.fixture
def clips(tmp_path):
    return load_clips(data_trees.make_dvd(str(tmp_path), videos=("a", "b")), "dvd", "all")


def _decode(batch):
    """Frame index from R, and the (row, col) planes, of uint8-scaled RGB."""
    values = np.round(np.asarray(batch) * 255).astype(int)
    return values[..., 0], values[..., 1:]


def _first(dataset, n=1):
    return [tuple(np.asarray(t) for t in element) for element in dataset.take(n)]


def test_window_indices_replicate_the_ends():
    assert window_indices(8, 5, 0) == [0, 0, 0, 1, 2]
    assert window_indices(8, 5, 7) == [5, 6, 7, 7, 7]
    assert window_indices(3, 7, 1) == [0, 0, 0, 1, 2, 2, 2]


def test_training_windows_are_centred_on_the_target(clips):
    dataset = training_dataset(clips, 5, batch_size=4, crop=16, channels="rgb", augment=False, seed=1, repeat=False)
    seen = []
    for blurry, sharp in dataset:
        assert blurry.shape == (4, 5, 16, 16, 3) and sharp.shape == (4, 16, 16, 3)
        b_index, b_pos = _decode(blurry)
        s_index, s_pos = _decode(sharp)
        for i in range(4):
            centre = (s_index[i, 0, 0] - 5) // 20
            assert 2 <= centre <= 5  # whole windows only: 8 frames, T = 5
            np.testing.assert_array_equal(b_index[i, :, 0, 0], 20 * np.arange(centre - 2, centre + 3))
            for t in range(5):  # the same crop on every frame and the target
                np.testing.assert_array_equal(b_pos[i, t], s_pos[i])
            seen.append(centre)
    assert len(seen) == num_training_windows(clips, 5) == 8


def test_augmentations_keep_frames_and_target_aligned(clips):
    dataset = training_dataset(clips, 5, batch_size=8, crop=16, channels="rgb", augment=True, seed=3)
    reversed_windows = transformed = 0
    for blurry, sharp in _first(dataset, 4):
        b_index, b_pos = _decode(blurry)
        s_index, s_pos = _decode(sharp)
        for i in range(8):
            for t in range(5):
                np.testing.assert_array_equal(b_pos[i, t], s_pos[i])
            order = b_index[i, :, 0, 0] // 20
            centre = (s_index[i, 0, 0] - 5) // 20
            assert order[2] == centre
            assert list(order) in (list(range(centre - 2, centre + 3)), list(range(centre + 2, centre - 3, -1)))
            reversed_windows += order[0] > order[-1]
            rows = s_pos[i, :, :, 0]
            transformed += not (rows[1, 0] == rows[0, 0] + 1 and rows[0, 1] == rows[0, 0])  # not the identity
    assert 0 < reversed_windows < 32 and 0 < transformed < 32


def test_seed_makes_the_pipeline_deterministic(clips):
    def batches(seed):
        return _first(training_dataset(clips, 5, batch_size=2, crop=16, seed=seed), 5)

    a, b, c = batches(7), batches(7), batches(8)
    for (xa, ya), (xb, yb) in zip(a, b):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    assert any(not np.array_equal(xa, xc) for (xa, _), (xc, _) in zip(a, c))


@pytest.mark.parametrize("in_files", [False, True], ids=["memory", "files"])
def test_cached_pipeline_yields_the_same_windows(clips, tmp_path, in_files):
    # Cached windows are shuffled by tf.data (the order differs from the
    # uncached stateless order, and so do the crops drawn per position), but
    # each epoch holds the same windows: R encodes the frame index.
    cache = str(tmp_path / "cache") if in_files else ""
    options = dict(batch_size=2, crop=16, channels="rgb", seed=4, augment=False)
    plain = _first(training_dataset(clips, 5, **options), 4)  # one epoch: 8 windows
    cached = _first(training_dataset(clips, 5, cache=cache, **options), 4)

    def windows(batches):
        return sorted(tuple(np.round(x[..., 0].mean(axis=(1, 2)) * 255).astype(int)) for b, _ in batches for x in b)

    assert windows(plain) == windows(cached)
    if in_files:
        assert any(name.startswith("cache") for name in os.listdir(tmp_path))


def test_y_output_is_bt601_luma(clips):
    (y_blurry, y_sharp), = _first(training_dataset(clips, 3, batch_size=2, crop=16, channels="y", augment=False, seed=0))
    (rgb_blurry, rgb_sharp), = _first(training_dataset(clips, 3, batch_size=2, crop=16, channels="rgb", augment=False,
                                                       seed=0))
    assert y_blurry.shape == (2, 3, 16, 16, 1) and y_sharp.shape == (2, 16, 16, 1)
    np.testing.assert_allclose(y_sharp, np.asarray(colour.rgb_to_y(rgb_sharp)), atol=1e-6)


def test_jpeg_frames_are_decoded_inside_the_crop(tmp_path):
    clips = load_clips(data_trees.make_dvd(str(tmp_path), videos=("a",), ext=".jpg"), "dvd", "all")
    for blurry, sharp in _first(training_dataset(clips, 5, batch_size=2, crop=16, channels="rgb", augment=False,
                                                 seed=2), 2):
        b_index, b_pos = _decode(blurry)
        s_index, s_pos = _decode(sharp)
        centre = (np.median(s_index[0]) - 5) / 20
        assert abs(np.median(b_index[0, 2]) - 20 * centre) <= 2  # JPEG is lossy
        assert np.abs(b_pos[0, 0].astype(int) - s_pos[0].astype(int)).max() <= 6


def test_shards_are_disjoint_and_complete(clips):
    def targets(pipeline_id):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline_id,
                                             num_replicas_in_sync=2)
        dataset = training_dataset(clips, 3, batch_size=2, crop=16, channels="rgb", augment=False, seed=0,
                                   repeat=False, input_context=context)
        assert dataset.element_spec[1].shape[0] == 1  # per-replica batch of a global batch of 2
        found = []
        for blurry, sharp in dataset:
            index, _ = _decode(sharp)
            found.append((int(index[0, 0, 0]), int(np.asarray(blurry).sum() * 1000)))
        return found

    first, second = targets(0), targets(1)
    assert len(first) + len(second) == num_training_windows(clips, 3) == 12
    assert not set(first) & set(second)
    options = training_dataset(clips, 3, crop=16, input_context=tf.distribute.InputContext(2, 0, 2)).options()
    assert options.experimental_distribute.auto_shard_policy == tf.data.experimental.AutoShardPolicy.OFF


def test_evaluation_covers_every_frame_with_replicated_ends(clips):
    items = list(evaluation_dataset(clips[0], 5, channels="rgb"))
    assert len(items) == clips[0].num_frames
    for frame, (blurry, sharp) in enumerate(items):
        assert blurry.shape == (1, 5, 40, 36, 3) and sharp.shape == (1, 40, 36, 3)
        b_index, _ = _decode(blurry)
        s_index, _ = _decode(sharp)
        assert s_index[0, 0, 0] == 20 * frame + 5
        expected = [20 * i for i in window_indices(clips[0].num_frames, 5, frame)]
        np.testing.assert_array_equal(b_index[0, :, 0, 0], expected)


def test_evaluation_without_ground_truth(tmp_path):
    root = str(tmp_path)
    data_trees.write_frames(str(tmp_path / "qualitative_datasets" / "real" / "input"), 3)
    clip = load_clips(root, "dvd", "qualitative")[0]
    items = list(evaluation_dataset(clip, 5, channels="y"))
    assert len(items) == 3 and items[0].shape == (1, 5, 40, 36, 1)


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(crop=18), "multiple of 4"), (dict(crop=48), "smaller than crop=48"), (dict(channels="lab"), "channels")],
)
def test_bad_arguments_name_the_problem(clips, kwargs, match):
    with pytest.raises(ValueError, match=match):
        training_dataset(clips, 5, **kwargs)
    with pytest.raises(ValueError, match="fewer than the window of 9"):
        training_dataset(clips, 9, crop=16)


def _textured_jpeg_tree(root, count=6, height=72, width=88, quality=90):
    """A DVD tree of noisy, chroma-subsampled JPEG frames (where fast and accurate DCTs differ)."""
    rng = np.random.default_rng(3)
    for kind in ("input", "GT"):
        folder = os.path.join(root, "quantitative_datasets", "clip", kind)
        os.makedirs(folder)
        for i in range(count):
            image = rng.integers(0, 256, (height, width, 3)).astype(np.uint8)
            cv2.imwrite(os.path.join(folder, f"{i:05d}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return root


def test_jpeg_frames_decode_exactly_as_opencv_in_training_and_evaluation(tmp_path):
    """Issue 15.8: TF's default fast IDCT is up to 8 levels off libjpeg's accurate one."""
    root = _textured_jpeg_tree(str(tmp_path))
    [clip] = load_clips(root, "dvd", "all")
    reference = [cv2.imread(p)[..., ::-1].astype(np.float32) / 255 for p in clip.blurry]
    targets = [cv2.imread(p)[..., ::-1].astype(np.float32) / 255 for p in clip.sharp]
    for index, (window, sharp) in enumerate(evaluation_dataset(clip, 5, channels="rgb")):
        np.testing.assert_array_equal(np.asarray(window)[0, 2], reference[index])
        np.testing.assert_array_equal(np.asarray(sharp)[0], targets[index])
    # Training crops (decode_and_crop_jpeg) at many offsets: the same pixels as the full decode.
    dataset = training_dataset([clip], 5, batch_size=1, crop=40, channels="rgb", augment=False, seed=4)
    for blurry, sharp in dataset.take(12):
        crop = np.asarray(sharp)[0]
        matches = [(t, l) for t in range(72 - 39) for l in range(88 - 39)
                   for target in targets[2:4] if np.array_equal(target[t : t + 40, l : l + 40], crop)]
        assert matches, "a training crop differs from OpenCV's decode of the same JPEG"


def test_a_png_named_jpg_is_decoded_by_its_content(tmp_path):
    """Issue 15.5: the format comes from the header, not the name."""
    root = data_trees.make_dvd(str(tmp_path), videos=("a",), ext=".jpg", height=40, width=36)
    path = os.path.join(root, "quantitative_datasets", "a", "input", "00003.jpg")
    cv2.imwrite(path + ".png", cv2.cvtColor(data_trees.encoded_frame(3, 40, 36), cv2.COLOR_RGB2BGR))
    os.replace(path + ".png", path)  # PNG bytes under a .jpg name
    clips = load_clips(root, "dvd", "all", min_frames=5)
    dataset = training_dataset(clips, 5, batch_size=2, crop=16, channels="rgb", augment=False, seed=0)
    for blurry, sharp in dataset.take(3):
        assert np.isfinite(np.asarray(blurry)).all()
    window = next(iter(evaluation_dataset(clips[0], 5, channels="rgb").skip(3)))[0]
    np.testing.assert_array_equal(np.round(np.asarray(window)[0, 2] * 255), data_trees.encoded_frame(3, 40, 36))
