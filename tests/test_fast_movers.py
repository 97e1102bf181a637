"""The fast-mover clips (training.fast_movers): held-out photos where the flow misses."""

import numpy as np
import pytest

from keras_spgan.align import align_window
from keras_spgan.inference.runners import Runner
from training import fast_movers


@pytest.fixture(scope="module")
def clips():
    return fast_movers.clips()


def test_the_clips_are_fixed_and_shaped_as_documented(clips):
    assert fast_movers.available()
    names = [f"{p}/{s}" for p in fast_movers.PHOTOS for s in fast_movers.STRENGTHS]
    assert [c.name for c in clips] == names
    for clip in clips:
        assert len(clip.blurry) == len(clip.sharp) == fast_movers.FRAMES
        assert all(f.shape == (*fast_movers.SIZE, 3) and f.dtype == np.uint8 for f in clip.blurry + clip.sharp)
    again = fast_movers.clips()
    for a, b in zip(clips, again):
        np.testing.assert_array_equal(np.stack(a.blurry), np.stack(b.blurry))
    # Stronger shake, lower input PSNR, for both photos.
    inputs = fast_movers.measure(_Identity(), log=lambda line: None, made=clips)["rgb"]["per_clip"]
    for photo in fast_movers.PHOTOS:
        mild, medium, strong = (inputs[f"{photo}/{s}"]["input"] for s in fast_movers.STRENGTHS)
        assert mild > medium > strong > 20


def test_the_flow_misses_the_movers_and_not_the_background(clips):
    """What the clips are for: neighbours aligned by the flow still differ from the centre frame
    on the bending movers (as on riders in real footage), while the background lines up."""
    window = np.stack(clips[0].sharp[3:8])
    aligned = align_window(window).astype(np.float32)
    inner = (slice(8, -8), slice(8, -8))  # what the drift brings in at the borders is not the flow's
    wrong = [(np.abs(frame[inner] - aligned[2][inner]).mean(-1) > 30).mean() for frame in aligned]
    assert wrong[2] == 0 and min(wrong[:2] + wrong[3:]) > 0.03, wrong  # measured 0.05-0.25
    from keras_spgan.data import stills

    photo = stills.load(stills.available(["coffee"])[0])
    background = np.stack(fast_movers.sharp_footage(photo, photo, np.random.default_rng(0), movers=0))
    still = align_window(background[3:8]).astype(np.float32)
    assert max((np.abs(f[inner] - still[2][inner]).mean(-1) > 30).mean() for f in still) < 0.01  # measured 0.0075


class _Identity(Runner):
    """Returns each window's centre frame: what doing nothing scores."""

    kind, source, num_frames, frame_size = "fake", "identity", 5, None

    def _run(self, windows):
        return windows[:, 2]


def test_measure_reports_the_gain_over_every_frame(clips):
    made = clips[:2]
    report = fast_movers.measure(_Identity(), log=lambda line: None, made=made)
    assert report["protocol"] == fast_movers.PROTOCOL and report["clips"] == 2
    rows = report["rgb"]["per_clip"]
    assert all(abs(row["model"] - row["input"]) < 0.01 for row in rows.values())  # the input, back
    assert abs(report["rgb"]["gain_db"]) < 0.01
