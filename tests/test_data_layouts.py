import os

import numpy as np
import pytest

from keras_spgan.data import DatasetError, detect_format, layouts, load_clips
from tests import data_trees


def test_dvd_standard_split_and_qualitative(tmp_path):
    root = data_trees.make_dvd(str(tmp_path))
    data_trees.write_frames(os.path.join(root, "qualitative_datasets", "real_blur", "input"), 4)
    assert detect_format(root) == "dvd"
    train = load_clips(root, "dvd", "train")
    test = load_clips(root, "dvd", "test")
    assert [c.name for c in train] == ["train_a", "train_b"]
    assert [c.name for c in test] == ["IMG_0030"]  # one of the 10 standard DVD test videos
    assert test[0].size == (40, 36) and test[0].num_frames == 8
    assert test[0].sharp[3].endswith(os.path.join("IMG_0030", "GT", "00003.png"))
    qualitative = load_clips(root, "dvd", "qualitative")
    assert [c.name for c in qualitative] == ["real_blur"] and qualitative[0].sharp is None


def test_gopro_splits_and_gamma_variant(tmp_path):
    root = data_trees.make_gopro(str(tmp_path))
    assert detect_format(root) == "gopro"
    assert [c.name for c in load_clips(root, split="train")] == ["GOPR0372_07_00", "GOPR0374_11_00"]
    test = load_clips(root, split="test", gopro_blur="blur_gamma")
    assert test[0].blurry[0].endswith(os.path.join("blur_gamma", "00000.png"))
    assert len(load_clips(root, split="all")) == 3


def test_frames_layout_with_split_file_and_natural_order(tmp_path):
    root = data_trees.make_frames(str(tmp_path), test=["c"])
    names = ["f1.png", "f2.png", "f10.png"]
    data_trees.write_frames(os.path.join(root, "blurry", "d"), 3, names=names)
    data_trees.write_frames(os.path.join(root, "sharp", "d"), 3, names=names, sharp=True)
    assert detect_format(root) == "frames"
    train = load_clips(root, "frames", "train")
    assert [c.name for c in train] == ["a", "b", "d"]
    assert [os.path.basename(p) for p in train[2].blurry] == names  # not f1, f10, f2
    assert [c.name for c in load_clips(root, "frames", "test")] == ["c"]


def test_single_clip_frames_folder(tmp_path):
    data_trees.write_frames(str(tmp_path / "blurry"), 5)
    data_trees.write_frames(str(tmp_path / "sharp"), 5, sharp=True)
    clips = load_clips(str(tmp_path), "frames", "all")
    assert len(clips) == 1 and clips[0].num_frames == 5


def test_video_pairs_are_decoded_into_the_cache_not_the_dataset(tmp_path):
    root = tmp_path / "pairs"
    os.makedirs(root / "blurry")
    os.makedirs(root / "sharp")
    data_trees.write_video(str(root / "blurry" / "walk.avi"), 6)
    data_trees.write_video(str(root / "sharp" / "walk.avi"), 6, sharp=True)
    before = data_trees.tree_listing(str(root))
    assert detect_format(str(root)) == "pairs"
    clips = load_clips(str(root), "pairs", "all", cache_dir=str(tmp_path / "cache"))
    assert data_trees.tree_listing(str(root)) == before
    assert clips[0].name == "walk" and clips[0].num_frames == 6 and clips[0].size == (32, 48)
    assert all(p.startswith(str(tmp_path / "cache")) for p in clips[0].blurry + clips[0].sharp)
    from keras_spgan.data.frames import read_rgb

    red = [int(np.median(read_rgb(p)[..., 0])) for p in clips[0].sharp]
    assert all(abs(r - (20 * i + 5)) <= 3 for i, r in enumerate(red))  # MJPG is lossy
    again = load_clips(str(root), "pairs", "all", cache_dir=str(tmp_path / "cache"))
    assert again == clips  # decoded once, then reused


def _dvd(tmp_path, **kwargs):
    return data_trees.make_dvd(str(tmp_path / "dvd"), **kwargs)


def _gt(root, video="train_a"):
    return os.path.join(root, "quantitative_datasets", video, "GT")


def test_error_missing_folder(tmp_path):
    root = _dvd(tmp_path)
    for f in os.listdir(_gt(root)):
        os.remove(os.path.join(_gt(root), f))
    os.rmdir(_gt(root))
    with pytest.raises(DatasetError, match=r"train_a.GT: sharp frame folder not found"):
        load_clips(root, "dvd", "train")
    with pytest.raises(DatasetError, match="nowhere: data_dir not found"):
        load_clips(str(tmp_path / "nowhere"))


def test_error_frame_count_mismatch(tmp_path):
    root = _dvd(tmp_path)
    os.remove(os.path.join(_gt(root), "00007.png"))
    with pytest.raises(DatasetError, match=r"train_a.input: 8 blurry frames but 7 sharp frames"):
        load_clips(root, "dvd", "train")


def test_error_frame_sizes_differ(tmp_path):
    root = _dvd(tmp_path)
    data_trees.write_frames(_gt(root), 1, height=44, width=36, sharp=True)  # overwrites 00000.png
    with pytest.raises(DatasetError, match=r"GT.00000.png: frame size 36x44 differs"):
        load_clips(root, "dvd", "train")


@pytest.mark.parametrize("ext, match", [(".png", "truncated PNG"), (".jpg", "truncated JPEG")])
def test_error_truncated_image(tmp_path, ext, match):
    root = _dvd(tmp_path, ext=ext)
    path = os.path.join(_gt(root), f"00004{ext}")
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 2])
    with pytest.raises(DatasetError, match=rf"00004\{ext}: {match}"):
        load_clips(root, "dvd", "train")


def test_error_not_an_image(tmp_path):
    root = _dvd(tmp_path)
    open(os.path.join(_gt(root), "00002.png"), "wb").write(b"hello")
    with pytest.raises(DatasetError, match=r"00002.png: not a JPEG or PNG image"):
        load_clips(root, "dvd", "train")


def test_error_clip_shorter_than_window(tmp_path):
    root = _dvd(tmp_path, count=4)
    with pytest.raises(DatasetError, match=r"4 frames, fewer than the 5 a training window needs"):
        load_clips(root, "dvd", "train", min_frames=5)


def test_error_empty_split_and_bad_split_file(tmp_path):
    root = data_trees.make_dvd(str(tmp_path / "dvd"), videos=("train_a",))
    with open(os.path.join(root, "split.json"), "w") as f:
        f.write('{"test": []}')
    with pytest.raises(DatasetError, match="the split has no clips"):
        load_clips(root, "dvd", "test")
    with open(os.path.join(root, "split.json"), "w") as f:
        f.write('{"test": "train_a"}')
    with pytest.raises(DatasetError, match="split.json: must be JSON"):
        load_clips(root, "dvd", "test")
    with open(os.path.join(root, "split.json"), "w") as f:
        f.write('{"test": ["nope"]}')
    with pytest.raises(DatasetError, match=r"split.json names clips that do not exist: \['nope'\]"):
        load_clips(root, "dvd", "test")


def test_error_unknown_layout_and_format(tmp_path):
    with pytest.raises(DatasetError, match="cannot tell the dataset layout"):
        detect_format(str(tmp_path))
    with pytest.raises(DatasetError, match="data_format must be one of"):
        load_clips(str(tmp_path), "reds")


def test_validation_never_writes_into_the_dataset(tmp_path):
    root = _dvd(tmp_path)
    before = data_trees.tree_listing(root)
    for split in ("train", "test", "all"):
        layouts.load_clips(root, "dvd", split)
    assert data_trees.tree_listing(root) == before


def test_a_tree_without_split_json_or_standard_names_gets_a_fixed_logged_split(tmp_path, caplog):
    """Issue 15.1: a DVD-layout tree of other videos had an empty test split."""
    names = tuple(f"walk_{i:02d}" for i in range(12))
    root = data_trees.make_dvd(str(tmp_path / "dvd"), videos=names, count=5)
    with caplog.at_level("WARNING"):
        test = [c.name for c in load_clips(root, "dvd", "test")]
    train = [c.name for c in load_clips(root, "dvd", "train")]
    assert len(test) == 1 and set(test) | set(train) == set(names) and not set(test) & set(train)
    assert f"the test split is {test[0]}" in caplog.text
    assert [c.name for c in load_clips(root, "dvd", "test")] == test  # the same choice every time
    frames_root = data_trees.make_frames(str(tmp_path / "frames"), clips=("a", "b", "c"))
    frames_test = [c.name for c in load_clips(frames_root, "frames", "test")]
    assert len(frames_test) == 1 and len(load_clips(frames_root, "frames", "train")) == 2
    # One clip: it is both splits.
    single = data_trees.make_dvd(str(tmp_path / "single"), videos=("only",), count=5)
    assert [c.name for c in load_clips(single, "dvd", "test")] == ["only"]
    assert [c.name for c in load_clips(single, "dvd", "train")] == ["only"]
