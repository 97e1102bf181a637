import os

import cv2
import numpy as np
import pytest

from keras_spgan.data import blur, load_clips, sample, synthesize
from tests import data_trees
from tests.test_training_set import _centroid


def _sharpness(image):
    return cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var()


def _textured(rng, size=64):
    return cv2.resize(rng.integers(0, 256, (16, 16, 3)).astype(np.uint8), (size, size), interpolation=cv2.INTER_NEAREST)


def test_average_frames_is_the_mean_and_gamma_averages_linear_light():
    dark, bright = np.zeros((2, 2, 3), np.uint8), np.full((2, 2, 3), 255, np.uint8)
    assert np.all(blur.average_frames([dark, bright]) == 128)
    expected = round(255 * 0.5 ** (1 / 2.2))
    assert np.all(blur.average_frames([dark, bright], gamma=2.2) == expected)


def test_noise_has_the_requested_sigma():
    rng = np.random.default_rng(0)
    image = np.full((200, 200, 3), 128, np.uint8)
    noisy = blur.add_noise(image, 0.02, rng).astype(float) / 255
    assert noisy.std() == pytest.approx(0.02, rel=0.1)
    assert blur.add_noise(image, 0.0, rng) is image


def test_trajectory_is_smooth_bounded_and_zero_at_mid_exposure():
    path = blur.smooth_trajectory(np.random.default_rng(1), 15, max_shift=6.0, max_angle=1.0)
    assert path.shape == (15, 3)
    np.testing.assert_array_equal(path[7], 0.0)
    assert np.abs(path[:, :2]).max() <= 6.0 + 1e-9 and np.abs(path[:, 2]).max() <= 1.0 + 1e-9
    steps = np.abs(np.diff(path[:, :2], axis=0))
    assert steps.max() < 6.0  # no jumps across the whole range in one step


def test_shake_blurs_and_keeps_the_mid_exposure_frame_as_target():
    rng = np.random.default_rng(2)
    image = _textured(rng)
    blurry, sharp = blur.shake(image, rng, max_shift=6.0)
    np.testing.assert_array_equal(sharp, image)
    assert _sharpness(blurry) < 0.5 * _sharpness(image)
    still, same = blur.shake(image, rng, max_shift=0.0, max_angle=0.0)
    np.testing.assert_array_equal(still, image)


def test_shake_centroid_target_sits_where_the_blur_is():
    """A blob shaken by 6 px: the mid-exposure target's blob is away from the blurry blob's
    centre of light (which nothing in the blurry frame tells), the centroid target's on it;
    the draws are the same, so the blurry frames are the same bytes."""
    blob = np.zeros((96, 96, 3), np.uint8)
    cv2.circle(blob, (48, 48), 3, (255, 255, 255), -1)
    blob = cv2.GaussianBlur(blob, (0, 0), 1.5)
    offsets = {"mid": [], "centroid": []}
    for seed in range(8):
        blurry = {}
        for target in ("mid", "centroid"):
            blurry[target], sharp = blur.shake(blob, np.random.default_rng(seed), max_shift=6.0, max_angle=0.0,
                                               target=target)
            offsets[target].append(np.hypot(*(_centroid(blurry[target], linear=False) - _centroid(sharp, linear=False))))
        np.testing.assert_array_equal(blurry["mid"], blurry["centroid"])
    assert max(offsets["centroid"]) < 0.15
    assert np.mean(offsets["mid"]) > 1.0, offsets["mid"]
    with pytest.raises(ValueError, match="target must be"):
        blur.shake(blob, np.random.default_rng(0), target="start")


def test_shake_with_object_motion_blurs_locally():
    rng = np.random.default_rng(3)
    image = _textured(rng, 96)
    blurry, sharp = blur.shake(image, rng, max_shift=0.0, max_angle=0.0, object_motion=20.0)
    changed = np.abs(blurry.astype(int) - sharp.astype(int)).max(axis=-1) > 2
    assert 0.01 < changed.mean() < 0.6  # the object, not the whole frame


def test_sample_dataset_is_identical_across_builds(tmp_path):
    first = sample.sample_data_dir(str(tmp_path / "one"))
    second = sample.sample_data_dir(str(tmp_path / "two"))
    listing = data_trees.tree_listing(first)
    assert listing == data_trees.tree_listing(second)
    for relative, _ in listing:
        with open(os.path.join(first, relative), "rb") as a, open(os.path.join(second, relative), "rb") as b:
            assert a.read() == b.read(), relative
    assert sample.sample_data_dir(str(tmp_path / "one")) == first  # cached: not rebuilt
    assert not [n for n in os.listdir(tmp_path / "one") if "partial" in n]


def test_sample_dataset_is_a_valid_dvd_tree_with_real_blur(tmp_path):
    root = sample.sample_data_dir(str(tmp_path))
    train = load_clips(root, split="train", min_frames=5)
    test = load_clips(root, split="test", min_frames=5)
    assert [c.name for c in test] == list(sample.TEST_CLIPS) and len(train) == sample.NUM_CLIPS - len(test)
    assert all(c.size == sample.FRAME_SIZE and c.num_frames == sample.NUM_FRAMES for c in train + test)
    from keras_spgan.data.frames import read_rgb

    ratios = [_sharpness(read_rgb(c.blurry[6])) / _sharpness(read_rgb(c.sharp[6])) for c in train + test]
    assert max(ratios) < 0.8, ratios  # every clip is visibly blurred


def _video_folder(tmp_path, count=21):
    source = tmp_path / "sharp_videos"
    os.makedirs(source)
    data_trees.write_video(str(source / "street.avi"), count, height=32, width=48)
    data_trees.write_frames(str(source / "stills"), 3, height=40, width=40)
    return source


def test_cli_average_mode_writes_a_dvd_tree(tmp_path, capsys):
    source, out = _video_folder(tmp_path), tmp_path / "out"
    assert synthesize.main([str(source), str(out), "--mode", "average", "--frames", "3", "--gamma", "2.2"]) == 0
    clips = {c.name: c for c in load_clips(str(out), "dvd", "all")}
    assert clips["street"].num_frames == 7 and clips["stills"].num_frames == 1  # 21 // 3 and 3 // 3
    gt = cv2.imread(clips["street"].sharp[2])
    assert abs(int(np.median(gt[..., 2])) - 20 * 7) <= 3  # GT of output frame 2 = input frame 7 (middle of 6..8)
    assert "street: 7 frames" in capsys.readouterr().err


def test_cli_shake_mode_and_refusals(tmp_path, capsys):
    source, out = _video_folder(tmp_path, count=4), tmp_path / "out"
    assert synthesize.main([str(source), str(out), "--mode", "shake", "--object_motion", "10", "--noise", "0.01",
                            "--target", "centroid"]) == 0
    assert len(load_clips(str(out), "dvd", "all")) == 2
    listing = data_trees.tree_listing(str(out))
    assert synthesize.main([str(source), str(out), "--mode", "shake"]) == 2
    assert "already exists (pass --overwrite" in capsys.readouterr().err
    assert data_trees.tree_listing(str(out)) == listing
    assert synthesize.main([str(tmp_path / "missing"), str(tmp_path / "o2")]) == 2
    assert "missing: no such file or folder" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "o2")
    assert synthesize.main([str(source), str(tmp_path / "o3"), "--frames", "4"]) == 2
    assert "error: --frames: must be a positive odd number" in capsys.readouterr().err


def test_cli_leaves_nothing_behind_when_a_source_is_too_short(tmp_path, capsys):
    source = tmp_path / "short"
    data_trees.write_frames(str(source), 2)
    assert synthesize.main([str(source), str(tmp_path / "out"), "--frames", "7"]) == 2
    assert "too few frames" in capsys.readouterr().err
    assert os.listdir(tmp_path) == ["short"]
