import json
import os

import cv2
import numpy as np
import pytest

from keras_spgan.data import builtin, camera, load_clips, stills, training_set


def _photo(seed, size=(160, 200)):
    """A textured 'photo': smooth colour fields plus hard edges."""
    rng = np.random.default_rng(seed)
    image = cv2.resize(rng.integers(0, 256, (12, 15, 3)).astype(np.uint8), size[::-1], interpolation=cv2.INTER_CUBIC)
    for _ in range(12):
        x, y = int(rng.integers(0, size[1])), int(rng.integers(0, size[0]))
        cv2.rectangle(image, (x, y), (x + 20, y + 12), tuple(int(c) for c in rng.integers(0, 256, 3)), -1)
    return image


def _psnr(a, b):
    mse = np.mean((a.astype(float) - b.astype(float)) ** 2)
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def _clean(params):
    params.noise, params.compression, params.objects = 0.0, "none", 0
    return params


def test_srgb_transfer_round_trips():
    x = np.linspace(0, 1, 101)
    np.testing.assert_allclose(camera.linear_to_srgb(camera.srgb_to_linear(x)), x, atol=1e-9)
    assert camera.srgb_to_linear(np.array(0.5)) == pytest.approx(0.214, abs=1e-3)


def test_blur_lengths_follow_the_target_and_no_blur_means_sharp_input():
    photo = _photo(0)
    psnrs = []
    for blur in (0.0, 4.0, 12.0, 24.0):
        rng = np.random.default_rng(3)
        params = _clean(camera.draw_params(rng, blur=blur))
        blurry, sharp, params = camera.render_clip(photo, rng, params, num_frames=6, size=(64, 96))
        assert len(blurry) == len(sharp) == 6 and blurry[0].shape == (64, 96, 3) and blurry[0].dtype == np.uint8
        assert np.mean(params.blur_per_frame) == pytest.approx(blur, rel=0.01, abs=1e-6)
        psnrs.append(np.mean([_psnr(b, s) for b, s in zip(blurry, sharp)]))
    assert psnrs[0] > 50  # no motion: the exposure is the sharp frame
    assert psnrs[0] > psnrs[1] > psnrs[2] > psnrs[3]  # longer blur, further from sharp


def test_clips_are_deterministic_and_degradations_touch_only_the_input():
    photo, other = _photo(1), _photo(2)

    def render(seed):
        rng = np.random.default_rng(seed)
        params = camera.draw_params(rng, blur=0.0)
        params.noise, params.compression, params.objects = 0.01, "jpeg:60", 0
        return camera.render_clip(photo, rng, params, num_frames=5, size=(64, 64), object_sources=[other])

    a, b = render(5), render(5)
    for x, y in zip(a[0] + a[1], b[0] + b[1]):
        np.testing.assert_array_equal(x, y)
    blurry, sharp, _ = a
    assert 25 < np.mean([_psnr(x, y) for x, y in zip(blurry, sharp)]) < 45  # noise + JPEG, no blur


def test_moving_objects_blur_locally():
    photo, other = _photo(3), _photo(4)
    rng = np.random.default_rng(11)
    params = _clean(camera.draw_params(rng, blur=0.0))
    params.objects = 2
    blurry, sharp, _ = camera.render_clip(photo, rng, params, num_frames=5, size=(96, 96), object_sources=[other])
    difference = np.abs(blurry[2].astype(float) - sharp[2].astype(float)).max(axis=2)
    changed = (difference > 2).mean()
    assert 0 < changed < 0.8  # the camera stands still: only the objects are blurred


def test_hand_jitter_blurs_a_still_camera():
    """jitter 1: the camera does not move between frames (sharp frames all alike), yet every
    exposure is blurred by its own path, of the drawn length and different from its neighbours'."""
    photo = _photo(5)
    rng = np.random.default_rng(4)
    params = _clean(camera.draw_params(rng, blur=10.0))
    params.jitter = 1.0
    blurry, sharp, params = camera.render_clip(photo, rng, params, num_frames=5, size=(64, 96))
    assert all(_psnr(s, sharp[0]) > 50 for s in sharp[1:])  # a still camera
    assert np.mean(params.blur_per_frame) == pytest.approx(10.0)
    assert all(_psnr(b, s) < 35 for b, s in zip(blurry, sharp))  # yet blurred
    assert _psnr(blurry[1], blurry[2]) < 40  # each exposure shaken its own way


def test_hand_jitter_is_drawn_apart_from_the_rest_of_a_clip():
    draws = [camera.draw_params(np.random.default_rng(k), hand_jitter=0.5, jitter_rng=np.random.default_rng([k, 7]))
             for k in range(200)]
    plain = [camera.draw_params(np.random.default_rng(k)) for k in range(200)]
    jitters = np.array([d.jitter for d in draws])
    assert 0.35 < (jitters > 0).mean() < 0.65 and (jitters == 1).any() and ((jitters > 0) & (jitters < 1)).any()
    assert all(p.jitter == 0 for p in plain)
    for d, p in zip(draws, plain):  # the other fields: the same draw as without jitter
        d.jitter = 0.0
        assert d == p


def _shift(a, b):
    """Translation between two RGB frames (pixels), by phase correlation."""
    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float32) for f in (a, b)]
    return float(np.hypot(*cv2.phaseCorrelate(*grey)[0]))


@pytest.mark.parametrize("blur", [0.0, 3.0, 16.0])
def test_a_short_shutter_moves_the_camera_between_frames_whatever_the_blur(blur):
    """Version 6: a short-shutter clip keeps its drawn blur length, yet its camera moves
    2-12 px between frames, far more than that blur for mild blur (before, motion between
    frames was at most 4x the blur, and a network could read the blur off the motion)."""
    photo = _photo(8, size=(320, 400))
    rng, jitter_rng = np.random.default_rng(11), np.random.default_rng(12)
    params = _clean(camera.draw_params(rng, blur=blur, jitter_rng=jitter_rng, short_shutter=1.0))
    assert 2.0 <= params.motion <= 12.0 and params.object_speed == 40.0
    assert camera.SHORT_EXPOSURE <= params.exposure <= 0.25
    blurry, sharp, params = camera.render_clip(photo, rng, params, num_frames=5, size=(96, 128))
    assert np.mean(params.blur_per_frame) == pytest.approx(max(blur, 0.0), abs=0.3 + 0.02 * params.motion)
    shifts = [_shift(sharp[i], sharp[i + 1]) for i in range(4)]
    assert np.mean(shifts) > 0.5 * params.motion and np.mean(shifts) > 4 * params.exposure * params.motion
    psnrs = [_psnr(b, s) for b, s in zip(blurry, sharp)]
    if blur == 0.0:  # the sharp frames move, and the blurry ones are sharp
        assert min(psnrs) > 60
    else:  # blurred by its drawn length all the same (this smooth photo: 43-48 dB at 3 px)
        assert max(psnrs) < (50 if blur < 10 else 36)


def _centroid(frame, linear=True):
    """Centre of light (x, y) of an RGB uint8 frame: in linear light, or of its encoded values
    (`linear=False`, for blur averaged on them)."""
    values = frame[..., 1].astype(np.float64) / 255.0
    light = camera.srgb_to_linear(values) if linear else values
    ys, xs = np.mgrid[: light.shape[0], : light.shape[1]]
    return np.array([(xs * light).sum(), (ys * light).sum()]) / light.sum()


def test_centroid_targets_sit_where_the_blur_is():
    """Version 7: the sharp target is filmed from the exposure's mean camera pose. A camera shaken
    during each exposure over a small bright blob: hand jitter is zero at mid-exposure but not on
    average, so the mid-exposure target's blob sits away from the blurry blob's centre of light
    (0.7 px on average at 10 px of blur, up to 1.4: nothing in the frames tells where), the centroid target's on it. The blurry frames
    are the same bytes either way, and without blur the targets are the same."""
    blob = np.zeros((320, 400, 3), np.uint8)
    cv2.circle(blob, (200, 160), 3, (255, 255, 255), -1)
    blob = cv2.GaussianBlur(blob, (0, 0), 1.5)

    def clip(target, blur, seed):
        rng, jitter_rng = np.random.default_rng(seed), np.random.default_rng([seed, 7])
        params = _clean(camera.draw_params(rng, blur=blur, hand_jitter=1.0, jitter_rng=jitter_rng))
        params.jitter, params.scale, params.gain, params.flat_regions = 1.0, 1.0, 1.0, 0  # a still camera, shaking
        params.blur_space = "linear"
        return camera.render_clip(blob, rng, params, num_frames=5, size=(96, 128), target=target)[:2]

    offsets = {"mid": [], "centroid": []}
    for seed in range(4):
        blurry = {}
        for target in ("mid", "centroid"):
            blurry[target], sharp = clip(target, 10.0, seed)
            offsets[target] += [np.hypot(*(_centroid(b) - _centroid(s))) for b, s in zip(blurry[target], sharp)]
        assert all(np.array_equal(m, c) for m, c in zip(blurry["mid"], blurry["centroid"]))
    assert max(offsets["centroid"]) < 0.15
    assert np.mean(offsets["mid"]) > 0.5 and max(offsets["mid"]) > 1.0  # 10 px of jitter: 0.7 px, up to 1.4
    assert all(np.array_equal(m, c) for m, c in zip(clip("mid", 0.0, 1)[1], clip("centroid", 0.0, 1)[1]))


def test_short_shutters_are_drawn_apart_from_the_rest_of_a_clip():
    """The share is followed, and with short_shutter=0 every draw is version 5's."""
    def draws(share):
        return [camera.draw_params(np.random.default_rng(k), hand_jitter=0.5, srgb_blur=0.5, short_shutter=share,
                                   jitter_rng=np.random.default_rng([k, 7])) for k in range(300)]

    short, plain = draws(0.4), draws(0.0)
    assert 0.3 < np.mean([d.motion > 0 for d in short]) < 0.5
    assert all(p.motion == 0 and p.object_speed == 25.0 and p.exposure >= 0.25 for p in plain)
    slow = [(d, p) for d, p in zip(short, plain) if d.motion == 0]
    assert slow and all(d == p for d, p in slow)
    for d, p in zip(short, plain):  # the rest of a short-shutter clip is drawn as without it
        assert (d.blur, d.scale, d.noise, d.compression, d.objects, d.blur_space) == (
            p.blur, p.scale, p.noise, p.compression, p.objects, p.blur_space)


def test_version_8_pans_faster_and_otherwise_draws_version_7s_clips():
    """--short_shutter_motion widens the short-shutter pans (version 8: 2-24 px per frame, the
    fast pans' 10-20 px inside) and changes nothing else of a draw; at 12 it is version 7's."""
    def draws(motion):
        return [camera.draw_params(np.random.default_rng(k), hand_jitter=0.5, srgb_blur=0.5, short_shutter=0.5,
                                   short_shutter_motion=motion, jitter_rng=np.random.default_rng([k, 7]))
                for k in range(300)]

    fast, slow = draws(24.0), draws(12.0)
    assert draws(camera.SHORT_SHUTTER_MOTION[1]) == slow
    motions = np.array([d.motion for d in fast if d.motion > 0])
    assert motions.min() >= 2.0 and motions.max() <= 24.0
    assert 0.15 < np.mean(motions > 12.0) < 0.4  # log-uniform: log(2) / log(12) of them
    assert np.mean([(d.motion > 10) & (d.motion < 20) for d in fast if d.motion > 0]) > 0.15
    for f, s in zip(fast, slow):
        assert (f.motion > 0) == (s.motion > 0)
        assert (f.blur, f.scale, f.noise, f.compression, f.objects, f.blur_space) == (
            s.blur, s.scale, s.noise, s.compression, s.objects, s.blur_space)
        if s.motion:  # the same draw, stretched in log space
            assert np.log(f.motion / 2.0) / np.log(12.0) == pytest.approx(np.log(s.motion / 2.0) / np.log(6.0))


def test_gamma_space_blur_is_darker_at_edges_and_drawn_apart_from_the_rest():
    """Averaging gamma-encoded values (DVD, GoPro's 'blur') gives darker mixes of bright and dark
    than linear light does; the choice comes from the jitter generator, so with srgb_blur=0 a
    clip is drawn as in version 3."""
    photo = _photo(6)
    frames = {}
    for space in ("linear", "srgb"):
        rng = np.random.default_rng(8)
        params = _clean(camera.draw_params(rng, blur=12.0))
        params.blur_space = space
        blurry, sharp, _ = camera.render_clip(photo, rng, params, num_frames=5, size=(64, 96))
        frames[space] = (np.mean(blurry), [np.mean(s) for s in sharp])
    assert frames["srgb"][1] == frames["linear"][1]  # the same scene and targets
    assert frames["srgb"][0] < frames["linear"][0] - 1.0  # mean level, out of 255

    draws = [camera.draw_params(np.random.default_rng(k), hand_jitter=0.5, jitter_rng=np.random.default_rng([k, 7]),
                                srgb_blur=0.5) for k in range(200)]
    plain = [camera.draw_params(np.random.default_rng(k), hand_jitter=0.5, jitter_rng=np.random.default_rng([k, 7]))
             for k in range(200)]
    assert 0.35 < np.mean([d.blur_space == "srgb" for d in draws]) < 0.65
    assert all(p.blur_space == "linear" for p in plain)
    for d, p in zip(draws, plain):
        d.blur_space = "linear"
        assert d == p


def _flat_bias_by_level(blurry, sharp):
    """Mean input - target (levels of 255) over flat regions of the targets, in 4 bins of brightness."""
    bias = []
    lo_hi = ((0, 64), (64, 128), (128, 192), (192, 256))
    diffs, levels = [], []
    for b, s in zip(blurry, sharp):
        y = s.astype(np.float32).mean(axis=2)
        flat = cv2.erode((np.hypot(cv2.Sobel(y, -1, 1, 0), cv2.Sobel(y, -1, 0, 1)) < 4).astype(np.uint8),
                         np.ones((9, 9))) > 0
        diffs.append((b.astype(np.float32) - s.astype(np.float32)).mean(axis=2)[flat])
        levels.append(y[flat])
    diffs, levels = np.concatenate(diffs), np.concatenate(levels)
    for lo, hi in lo_hi:
        inside = (levels >= lo) & (levels < hi)
        bias.append(float(diffs[inside].mean()) if inside.sum() > 200 else 0.0)
    return bias


@pytest.mark.parametrize("degradation", ["noise", "mpeg4"])
def test_noise_and_compression_keep_the_brightness_of_the_frames(degradation):
    """Noise clipped to [0, 1] after gamma encoding darkens highlights, OpenCV's MPEG-4 round
    trip darkens everything above the shadows: version 4's inputs were off their targets by up to
    7 levels in flat regions, which taught the presets a tone curve. keep_brightness puts each
    frame's local mean back (noise grain and codec artefacts stay), with the same draws."""
    levels = np.array([[12, 100], [180, 250]], np.uint8)  # flat 32 px tiles of four brightnesses
    base = np.repeat(np.tile(levels, (4, 5))[..., None], 3, axis=2).repeat(32, axis=0).repeat(32, axis=1)

    def render(keep):
        rng = np.random.default_rng(11)
        params = _clean(camera.draw_params(rng, blur=0.0))
        if degradation == "noise":
            params.noise = 0.012
        else:
            params.compression = "mpeg4"
        params.gain = 1.0
        return camera.render_clip(base, rng, params, num_frames=5, size=(64, 96), keep_brightness=keep)

    (before, sharp, _), (after, sharp_after, _) = render(False), render(True)
    for a, b in zip(sharp, sharp_after):
        np.testing.assert_array_equal(a, b)  # same scene and targets
    worst_before = max(abs(v) for v in _flat_bias_by_level(before, sharp))
    worst_after = max(abs(v) for v in _flat_bias_by_level(after, sharp))
    assert worst_before > 1.0, worst_before  # the bias is there without it (this test can fail)
    assert worst_after < 0.35, worst_after
    # the degradation itself stays: its fine part (grain, blocks, ringing) is what it was
    def fine(frames):
        error = np.stack(frames).astype(np.float32) - np.stack(sharp).astype(np.float32)
        return float(np.std([e - cv2.GaussianBlur(e, (0, 0), camera.BRIGHTNESS_SIGMA) for e in error]))

    assert fine(before) > 0.2 and fine(after) == pytest.approx(fine(before), rel=0.1)


def test_noise_and_compression_shares_are_followed():
    def shares(**kwargs):
        draws = [camera.draw_params(np.random.default_rng(k), **kwargs) for k in range(400)]
        return np.mean([d.noise > 0 for d in draws]), np.mean([d.compression != "none" for d in draws])

    noisy, compressed = shares()  # version 3's
    assert 0.63 < noisy < 0.77 and 0.63 < compressed < 0.77
    noisy, compressed = shares(noisy=0.3, compressed=0.4)  # version 4's
    assert 0.23 < noisy < 0.37 and 0.33 < compressed < 0.47
    assert shares(noisy=0.0, compressed=0.0) == (0.0, 0.0)
    mpeg4_only = [camera.draw_params(np.random.default_rng(k), compressed=0.1).compression for k in range(400)]
    assert set(mpeg4_only) == {"none", "mpeg4"} and 0.05 < np.mean([c == "mpeg4" for c in mpeg4_only]) < 0.15


def test_the_command_and_builtin_stills_name_the_same_set():
    import argparse

    def path(argv, via_command):
        parser = argparse.ArgumentParser()
        training_set.add_arguments(parser)
        if via_command:  # the command line's own flags must not change the set's name
            parser.add_argument("--debug", action="store_true")
            parser.add_argument("--verbose", action="store_true")
        return training_set.default_path(training_set.check_args(parser.parse_args(argv)))

    assert path([], False) == path(["--debug", "--verbose"], True)
    assert os.path.basename(path([], False)).startswith(f"stills-v{training_set.VERSION}-")
    # Older versions' arguments give those sets under their names: version 4 (the spn preset's
    # stage 4, the first spgan) without --keep_brightness; version 3's shares are version 3's
    # (stage 3), and with --hand_jitter 0 version 2's (stages 1 and 2)
    version_7 = [f"--{k}={v}" for k, v in training_set.VERSION_7.items()]
    assert os.path.basename(path(version_7, False)) == "stills-v7-08ad26e7f4"  # the presets of 2026-12-04
    version_6 = [*version_7, "--target", "mid"]
    assert os.path.basename(path(version_6, False)) == "stills-v6-e3e64bf962"  # the spn-v6 recipe
    version_5 = [*version_6, "--short_shutter", "0"]
    assert os.path.basename(path(version_5, False)) == "stills-v5-33086d2c99"  # the spgan preset's stage 2
    version_4 = [*version_5, "--no-keep_brightness"]
    version_3 = [*version_4, *(f"--{k}={v}" for k, v in training_set.VERSION_3.items())]
    assert os.path.basename(path(version_4, False)) == "stills-v4-a06206d759"
    assert os.path.basename(path(version_3, False)) == "stills-v3-43b6432fb2"
    assert os.path.basename(path([*version_3, "--hand_jitter", "0"], False)) == "stills-v2-b333f0fef2"
    assert os.path.basename(path([*version_4, "--hand_jitter", "0"], False)).startswith("stills-v4-")  # not v2
    assert os.path.basename(path([*version_6, "--hand_jitter", "0"], False)).startswith("stills-v6-")
    assert os.path.basename(path([*version_7, "--short_shutter", "0"], False)).startswith("stills-v7-")
    # Faster short-shutter pans are version 8 whatever else is asked (no older name is reused)
    assert os.path.basename(path(["--target", "mid"], False)).startswith("stills-v8-")


def test_every_bundled_still_has_a_licence_and_the_held_out_photos_are_bundled():
    names = [s.name for s in stills.BUNDLED]
    assert len(names) == len(set(names))
    assert set(stills.HELD_OUT) <= set(names)
    for still in stills.BUNDLED:
        assert still.licence and still.credit
    found = stills.available()
    assert {s.name for s in found} == set(names)  # the test extra installs every package
    image = stills.load(found[0])
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3


def test_unknown_still_is_named():
    with pytest.raises(ValueError, match="no_such_photo"):
        stills.available(["no_such_photo"])


def _own_stills(folder, count=3):
    os.makedirs(folder)
    for i in range(count):
        cv2.imwrite(os.path.join(folder, f"photo{i}.png"), _photo(10 + i)[..., ::-1])
    return folder


def _args(tmp_path, *extra):
    photos = _own_stills(str(tmp_path / "photos")) if not (tmp_path / "photos").exists() else str(tmp_path / "photos")
    return ["--stills", photos, "--no_bundled", "--held_out", "photo2", "--clips_per_still", "2",
            "--procedural", "1", "--held_out_clips", "3", "--frames", "5", "--size", "48x64", *extra]


def test_the_training_set_command_writes_a_dvd_tree_with_split_and_sources(tmp_path, capsys):
    out = str(tmp_path / "set")
    assert training_set.main(_args(tmp_path, "--out", out)) == 0
    assert capsys.readouterr().out.strip() == out
    train = load_clips(out, "dvd", "train", min_frames=5)
    test = load_clips(out, "dvd", "test")
    assert len(train) == 2 * 2 + 1 and len(test) == 3
    assert {c.name for c in test} == {"heldout_photo2_00", "heldout_photo2_01", "heldout_photo2_02"}
    assert all(c.num_frames == 5 and c.size == (48, 64) for c in train + test)
    with open(os.path.join(out, "sources.json")) as f:
        sources = json.load(f)
    assert sources["clips"] == {"train": 5, "test": 3} and sources["frames"] == 40
    by_name = {s["name"]: s for s in sources["sources"]}
    assert by_name["photo2"]["held_out"] and not by_name["photo0"]["held_out"]
    with open(os.path.join(out, "clips.json")) as f:
        clips = json.load(f)
    assert [clips[f"heldout_photo2_0{k}"]["blur"] for k in range(3)] == [0.0, 12.0, 24.0]  # the grid
    assert not any(r["source"] == "photo2" for r in clips.values() if r["split"] == "train")


def test_the_same_arguments_give_the_same_bytes(tmp_path):
    first, second = str(tmp_path / "a"), str(tmp_path / "b")
    assert training_set.main(_args(tmp_path, "--out", first)) == 0
    assert training_set.main(_args(tmp_path, "--out", second)) == 0
    for root, _, files in os.walk(first):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as a, open(path.replace(first, second, 1), "rb") as b:
                assert a.read() == b.read(), path


def test_bad_arguments_are_named(tmp_path, capsys):
    assert training_set.main(_args(tmp_path, "--out", str(tmp_path / "x"), "--held_out", "nope")) == 2
    assert "--held_out" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    assert training_set.main(["--stills", str(tmp_path / "missing"), "--no_bundled"]) == 2
    assert "--stills" in capsys.readouterr().err
    assert training_set.main(_args(tmp_path, "--out", str(tmp_path / "y"), "--hand_jitter", "1.5")) == 2
    assert "--hand_jitter: must be in [0, 1], got 1.5" in capsys.readouterr().err
    assert training_set.main(_args(tmp_path, "--out", str(tmp_path / "y"), "--compressed_share", "1.1")) == 2
    assert "--compressed_share: must be in [0, 1], got 1.1" in capsys.readouterr().err
    assert training_set.main(_args(tmp_path, "--out", str(tmp_path / "y"), "--noisy_share", "-0.5")) == 2
    assert "--noisy_share: must be in [0, 1], got -0.5" in capsys.readouterr().err
    assert training_set.main(_args(tmp_path, "--out", str(tmp_path / "y"), "--short_shutter_motion", "1")) == 2
    assert "--short_shutter_motion: must be at least 2 px, got 1.0" in capsys.readouterr().err
    assert not (tmp_path / "y").exists()
    with pytest.raises(SystemExit) as exit_info:
        training_set.main(["--size", "50x64"])
    assert exit_info.value.code == 2
    existing = tmp_path / "exists"
    existing.mkdir()
    assert training_set.main(_args(tmp_path, "--out", str(existing))) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_builtin_dataset_names_are_checked():
    from training.config import ConfigError, TrainConfig

    with pytest.raises(ConfigError, match="--data_dir: .*builtin:stills"):
        TrainConfig(data_dir="builtin:nope").validate()
    assert TrainConfig(data_dir="builtin:stills").validate().data_dir == "builtin:stills"
    assert TrainConfig(data_dir="builtin:stills-v2").validate().data_dir == "builtin:stills-v2"
    assert TrainConfig(data_dir="builtin:stills-v3").validate().data_dir == "builtin:stills-v3"
    assert TrainConfig(data_dir="builtin:stills-v4").validate().data_dir == "builtin:stills-v4"
    assert training_set.VERSION == 8  # builtin:stills-v8 names the current set: map it when the version moves on
    assert set(training_set.VERSIONS) == {int(n.rpartition("-v")[2]) for n in builtin.NAMES if "-v" in n}
    assert builtin.resolve_data_dir("/some/folder") == "/some/folder"
