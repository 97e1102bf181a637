"""keras-spgan deblur / deblur_video / deblur_frames: one output per input frame with
fps and size kept, the right windows, tiling, bounded memory, and every bad input."""

import os
import subprocess
import sys
import tracemalloc

import cv2
import numpy as np
import pytest

import keras_spgan as ks
from keras_spgan.data import window_indices
from keras_spgan.data.frames import FrameError
from keras_spgan.deblur import deblur_video
from keras_spgan.inference.runners import KerasRunner
from keras_spgan.inference.stream import deblur_frames, sliding_windows
from keras_spgan.inference.tiling import ALIGN, tile_spans
from tests.conftest import fill

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def textured_frames(count, height=40, width=52, seed=0):
    """A moving, blurred random texture: something for the network to react to."""
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur((rng.random((height + count, width + count, 3)) * 255).astype(np.uint8), (0, 0), 1.5)
    return [np.ascontiguousarray(base[i : i + height, i : i + width]) for i in range(count)]


def write_video(path, frames, fps=24.0):
    fourcc = {".mp4": "mp4v", ".avi": "MJPG"}[os.path.splitext(path)[1]]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (frames[0].shape[1], frames[0].shape[0]))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return str(path)


def write_folder(folder, frames, ext=".png"):
    os.makedirs(folder, exist_ok=True)
    for i, frame in enumerate(frames):
        image = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_RGBA2BGRA if frame.shape[2] == 4
                                                             else cv2.COLOR_RGB2BGR)
        cv2.imwrite(os.path.join(folder, f"f{i}{ext}"), image)
    return str(folder)


def video_info(path):
    capture = cv2.VideoCapture(str(path))
    info = (int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), capture.get(cv2.CAP_PROP_FPS),
            int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)), int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)))
    capture.release()
    return info


def expected_outputs(spn, frames):
    """The model on each frame's replicate-padded window, computed independently of the streaming code."""
    runner = KerasRunner(spn)
    out = []
    for i in range(len(frames)):
        window = np.stack([frames[j] for j in window_indices(len(frames), 5, i)])[None].astype(np.float32) / 255.0
        out.append(np.round(np.clip(runner(window)[0], 0, 1) * 255).astype(np.uint8))
    return out


def test_sliding_windows_replicate_the_ends_and_hold_one_window():
    for count in (1, 2, 3, 7):
        windows = list(sliding_windows(iter(range(count)), 5))
        assert [c for c, _ in windows] == list(range(count))
        assert [w for _, w in windows] == [window_indices(count, 5, i) for i in range(count)]
    assert list(sliding_windows(iter([]), 5)) == []


@pytest.mark.parametrize("length, tile, overlap", [(100, 32, 8), (144, 64, 32), (37, 16, 4), (20, 32, 8)])
def test_tile_spans_cover_aligned_and_overlap(length, tile, overlap):
    spans = tile_spans(length, tile, overlap)
    assert spans[0][0] == 0 and spans[-1][1] == length
    assert all(start % ALIGN == 0 for start, _ in spans)
    assert all(a_stop - b_start >= overlap for (_, a_stop), (b_start, _) in zip(spans, spans[1:]))
    assert all(stop - start <= tile for start, stop in spans)


def test_frame_folder_in_and_out_gives_the_model_on_every_window(trained_tiny_spn, tmp_path):
    spn, path = trained_tiny_spn
    frames = textured_frames(7)
    source = write_folder(tmp_path / "in", frames)
    summary = deblur_video(source, str(tmp_path / "out"), path, batch=3, progress=False)
    assert summary["frames"] == 7 and summary["size"] == [40, 52]
    assert sorted(os.listdir(tmp_path / "out")) == sorted(os.listdir(source))  # the input's names
    names = sorted(os.listdir(source), key=lambda n: int(n[1:-4]))
    written = [cv2.cvtColor(cv2.imread(str(tmp_path / "out" / n)), cv2.COLOR_BGR2RGB) for n in names]
    expected = expected_outputs(spn, frames)
    for got, want, blurry in zip(written, expected, frames):
        assert np.abs(got.astype(int) - want).max() <= 1
    assert np.mean([np.abs(w.astype(int) - b).mean() for w, b in zip(written, frames)]) > 0.5  # it did deblur


def test_video_in_video_out_keeps_count_size_and_fps(trained_tiny_spn, tmp_path):
    _, path = trained_tiny_spn
    source = write_video(tmp_path / "in.mp4", textured_frames(9), fps=12.5)
    summary = deblur_video(source, str(tmp_path / "out.avi"), path, progress=False)
    assert video_info(tmp_path / "out.avi") == (9, 12.5, 40, 52)
    assert summary["fps"] == 12.5 and summary["backend"] == "keras"
    assert [n for n in os.listdir(tmp_path) if n.startswith(".")] == []  # no temporary left


def test_fewer_frames_than_the_window_still_gives_every_frame(trained_tiny_spn, tmp_path):
    spn, _ = trained_tiny_spn
    frames = textured_frames(2)
    out = list(deblur_frames(frames, spn))
    assert len(out) == 2
    for got, want in zip(out, expected_outputs(spn, frames)):
        assert np.abs(got.astype(int) - want).max() <= 1


def test_side_by_side_cli_and_console_script(trained_tiny_spn, tmp_path):
    _, path = trained_tiny_spn
    source = write_video(tmp_path / "in.avi", textured_frames(4))
    script = os.path.join(os.path.dirname(sys.executable), "keras-spgan")
    command = [script] if os.path.exists(script) else [sys.executable, "-m", "keras_spgan.cli"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=REPO)
    result = subprocess.run([*command, "deblur", source, str(tmp_path / "out.mp4"), "--model", path,
                             "--side_by_side"], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "4/4 frames" in result.stderr and "frames/s" in result.stderr and "ETA" in result.stderr
    assert video_info(tmp_path / "out.mp4") == (4, 24.0, 40, 104)
    assert "4 frames of 104x40" in result.stdout  # issue 15.12: the size written, not the input's
    again = subprocess.run([sys.executable, "-m", "keras_spgan.deblur", source, str(tmp_path / "out.mp4"),
                            "--model", path], capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 2 and "already exists" in again.stderr


def test_tiled_with_overlap_matches_untiled(trained_tiny_spn):
    spn, _ = trained_tiny_spn
    frames = textured_frames(5, height=100, width=132)
    whole = np.stack(list(deblur_frames(frames, spn)))
    tiled = np.stack(list(deblur_frames(frames, spn, tile=64, overlap=32)))
    difference = np.abs(tiled.astype(int) - whole)
    assert difference.mean() < 0.05 and difference.max() <= 3
    # Without the alignment and blending this is far off: 48-pixel tiles with a tiny overlap show seams.
    seams = np.abs(np.stack(list(deblur_frames(frames, spn, tile=48, overlap=4))).astype(int) - whole)
    assert seams.max() > difference.max()


def _frame_folder(tmp_path, frames):
    """IN and OUT folders for the deblur CLI, IN holding `frames` as PNG."""
    in_dir = tmp_path / "frames_in"
    in_dir.mkdir()
    for i, frame in enumerate(frames):
        cv2.imwrite(str(in_dir / f"{i:03d}.png"), frame[..., ::-1])
    return str(in_dir), str(tmp_path / "frames_out")


def test_a_fixed_size_tflite_model_is_tiled_to_its_size(trained_tiny_spn, tmp_path):
    from export import tflite

    spn, _ = trained_tiny_spn
    model = str(tmp_path / "spn.tflite")
    tflite.export(spn, "none", "32x32", model, parity_windows=1, log=lambda *_: None)
    frames = textured_frames(3, height=40, width=52)
    out = list(deblur_frames(frames, model, overlap=12))
    assert len(out) == 3 and out[0].shape == (40, 52, 3)
    keras_out = list(deblur_frames(frames, spn))
    assert np.mean([np.abs(a.astype(int) - b).mean() for a, b in zip(out, keras_out)]) < 1.0
    # Issue 15.10: the default overlap (64) is larger than this 32x32 model: clipped, with a warning.
    result = subprocess.run([sys.executable, "-m", "keras_spgan.deblur", *_frame_folder(tmp_path, frames),
                             "--model", model, "--quiet"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "overlap 64 is too large for the model's fixed 32x32 input: tiles overlap by 16 pixels" in result.stderr
    # LiteRT defaults to one thread; a runner uses every core it may run on unless told otherwise.
    from keras_spgan.inference.runners import TFLiteRunner, load_runner

    assert TFLiteRunner(model).num_threads == len(os.sched_getaffinity(0))
    assert load_runner(model, num_threads=1).num_threads == 1


def _peak_bytes(spn, count, size=64):
    def stream():
        rng = np.random.default_rng(0)
        for _ in range(count):
            yield rng.integers(0, 256, (size, size, 3), dtype=np.uint8)

    tracemalloc.start()
    try:
        consumed = sum(1 for _ in deblur_frames(stream(), spn, batch=2))
        return consumed, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_length_of_the_stream(trained_tiny_spn):
    spn, _ = trained_tiny_spn
    _peak_bytes(spn, 10)  # warm up: tracing the model's function allocates once
    short_count, short_peak = _peak_bytes(spn, 40)
    long_count, long_peak = _peak_bytes(spn, 400)
    assert (short_count, long_count) == (40, 400)
    frame = 64 * 64 * 3
    # 10x the frames: the peak stays within a few frames' worth (a held video would add 360 frames).
    assert long_peak - short_peak < 20 * frame, (short_peak, long_peak)


# --- bad input ----------------------------------------------------------------------------------


def test_grey_and_rgba_frames_are_converted_and_reported(trained_tiny_spn, tmp_path):
    _, path = trained_tiny_spn
    frames = textured_frames(3)
    grey = write_folder(tmp_path / "grey", [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames])
    summary = deblur_video(grey, str(tmp_path / "grey_out"), path, progress=False)
    assert summary["frames"] == 3 and "grey frames converted to RGB" in summary["notes"]
    rgba = write_folder(tmp_path / "rgba", [np.dstack([f, np.full(f.shape[:2], 128, np.uint8)]) for f in frames])
    summary = deblur_video(rgba, str(tmp_path / "rgba_out.avi"), path, progress=False)
    assert summary["frames"] == 3 and "alpha channel dropped" in summary["notes"]
    with pytest.raises(FrameError, match="frame 1: expected an \\(H, W, 3\\) RGB frame"):
        list(deblur_frames([frames[0], np.zeros((40, 52, 2), np.uint8)], path))


def _leftovers(folder):
    return [n for n in os.listdir(folder) if n.startswith(".") or n.startswith("out")]


@pytest.mark.parametrize("case", ["unreadable", "empty", "truncated", "size_change", "too_small", "not_video"])
def test_bad_input_is_a_clear_error_and_leaves_nothing(trained_tiny_spn, tmp_path, case):
    _, path = trained_tiny_spn
    out = str(tmp_path / ("out.mp4" if case != "size_change" else "out"))
    if case == "unreadable":
        source, message = str(tmp_path / "in.mp4"), "cannot open video"
        (tmp_path / "in.mp4").write_bytes(os.urandom(4096))
    elif case == "empty":
        source, message = str(tmp_path / "in"), "no frames"
        os.makedirs(source)
    elif case == "truncated":
        full = write_video(tmp_path / "full.avi", textured_frames(12))
        data = open(full, "rb").read()
        source, message = str(tmp_path / "in.avi"), "truncated: decoded"
        (tmp_path / "in.avi").write_bytes(data[: len(data) // 2])
    elif case == "size_change":
        frames = textured_frames(6)
        frames[4] = textured_frames(1, height=44)[0]
        source, message = write_folder(tmp_path / "in", frames), "f4.png: frame size 52x44 differs"
    elif case == "too_small":
        source, message = write_folder(tmp_path / "in", [np.zeros((3, 8, 3), np.uint8)]), "too small"
    else:
        source, message = str(tmp_path / "in.txt"), "not a video file"
        (tmp_path / "in.txt").write_text("hello")
    with pytest.raises(FrameError, match=message):
        deblur_video(source, out, path, progress=False)
    assert _leftovers(tmp_path) == []


def test_output_paths_are_checked_before_any_work(trained_tiny_spn, tmp_path):
    _, path = trained_tiny_spn
    source = write_video(tmp_path / "in.avi", textured_frames(3))
    with pytest.raises(FrameError, match="must not be the input"):
        deblur_video(source, source, path, progress=False)
    (tmp_path / "taken.mp4").write_bytes(b"keep me")
    with pytest.raises(FrameError, match="already exists"):
        deblur_video(source, str(tmp_path / "taken.mp4"), path, progress=False)
    assert (tmp_path / "taken.mp4").read_bytes() == b"keep me"
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(FrameError, match="not a folder"):
        deblur_video(source, str(tmp_path / "a_file" / "out.mp4"), path, progress=False)
    with pytest.raises(FrameError, match="cannot write .webm"):
        deblur_video(source, str(tmp_path / "out.webm"), path, progress=False)
    with pytest.raises(ks.ModelLoadError, match="nothing.keras"):
        deblur_video(source, str(tmp_path / "out.mp4"), str(tmp_path / "nothing.keras"), progress=False)
    summary = deblur_video(source, str(tmp_path / "taken.mp4"), path, overwrite=True, progress=False)
    assert summary["frames"] == 3 and video_info(tmp_path / "taken.mp4")[0] == 3
    assert _leftovers(tmp_path) == []


def test_cli_flag_errors_exit_2(tmp_path, capsys):
    from keras_spgan import deblur

    assert deblur.main(["in.mp4", "out.mp4", "--model", "m", "--batch", "0"]) == 2
    assert "--batch" in capsys.readouterr().err
    assert deblur.main(["in.mp4", "out.mp4", "--model", "m", "--tile", "32", "--overlap", "32"]) == 2
    assert "--tile" in capsys.readouterr().err
    assert deblur.main([str(tmp_path / "missing.mp4"), "out.mp4", "--model", "m"]) == 2
    assert "missing.mp4: no such file" in capsys.readouterr().err


def test_bfloat16_precision_stays_close_to_float32(trained_tiny_spn, tmp_path):
    spn, path = trained_tiny_spn
    frames = textured_frames(3)
    fp32 = np.stack(list(deblur_frames(frames, path)))
    bf16 = np.stack(list(deblur_frames(frames, path, precision="bfloat16")))
    assert np.abs(bf16.astype(int) - fp32).mean() < 1.0
    assert any(layer.compute_dtype == "bfloat16"
               for layer in ks.inference.runners.with_precision(spn, "bfloat16").layers)
    from export import tflite

    model = str(tmp_path / "spn.tflite")
    tflite.export(spn, "none", "32x32", model, parity_windows=1, log=lambda *_: None)
    with pytest.raises(ks.ModelLoadError, match="has its own precision"):
        list(deblur_frames(frames, model, precision="bfloat16"))


def test_deblur_onto_a_full_disk_fails_and_keeps_the_old_output(trained_tiny_spn, tmp_path, small_filesystem):
    """Issue 16.6: OpenCV's VideoWriter failures were unchecked: exit 0, corrupt video, old file replaced."""
    _, path = trained_tiny_spn
    out = small_filesystem / "out.avi"
    write_video(out, textured_frames(3))
    before = out.read_bytes()
    fill(small_filesystem, leave=400_000)
    source = write_video(tmp_path / "in.avi", textured_frames(30, height=240, width=320))  # about 1 MB as MJPG
    result = subprocess.run([sys.executable, "-m", "keras_spgan.deblur", source, str(out), "--model", path,
                             "--overwrite", "--quiet"], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "could not be written completely" in result.stderr or "cannot write" in result.stderr
    assert out.read_bytes() == before
    assert sorted(os.listdir(small_filesystem)) == [".filler", "out.avi"]  # no partial file


def test_a_video_writer_that_drops_frames_is_an_error(trained_tiny_spn, tmp_path, monkeypatch):
    from keras_spgan.inference import video_io

    spn, _ = trained_tiny_spn
    source = write_video(tmp_path / "in.avi", textured_frames(4))
    real = video_io.FrameSink.write

    def drop_the_third(self, frame):
        if self.count == 2 and self.writer is not None:
            self.count += 1  # counted, never written: what a failed write looked like
            return
        real(self, frame)

    monkeypatch.setattr(video_io.FrameSink, "write", drop_the_third)
    with pytest.raises(FrameError, match="3 of 4 frames readable back"):
        deblur_video(source, str(tmp_path / "out.avi"), spn, progress=False)
    assert not [n for n in os.listdir(tmp_path) if n.startswith("out")]


def test_a_video_whose_frame_size_changes_mid_stream_is_an_error(tmp_path, trained_tiny_spn):
    """Issue 15.11: OpenCV rescaled such frames to the first one's size without a word."""
    import av

    spn, _ = trained_tiny_spn
    path = str(tmp_path / "sizes.avi")
    with av.open(path, "w") as out:  # MJPEG packets of two sizes in one stream, as a camera switching modes
        stream = out.add_stream("mjpeg", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuvj420p"
        for i in range(6):
            height, width = (48, 64) if i < 3 else (96, 128)
            ok, jpeg = cv2.imencode(".jpg", np.full((height, width, 3), 40 * i, np.uint8))
            packet = av.Packet(jpeg.tobytes())
            packet.stream, packet.pts, packet.dts = stream, i, i
            out.mux(packet)
    from keras_spgan.data.video import iter_video_rgb

    assert [f.shape for f in iter_video_rgb(path)] == [(48, 64, 3)] * 3 + [(96, 128, 3)] * 3
    with pytest.raises(FrameError, match="frame 3: frame size 128x96 differs from the first frame's 64x48"):
        deblur_video(path, str(tmp_path / "out.avi"), spn, progress=False)
    assert not [n for n in os.listdir(tmp_path) if n.startswith(("out", ".out"))]


class _RampRunner:
    """A model that is not flip-equivariant: the centre frame plus a ramp along x and y."""

    kind, source, num_frames, frame_size = "fake", "ramp", 5, None

    def __call__(self, windows):
        centre = windows[:, 2]
        height, width = centre.shape[1:3]
        ramp = np.linspace(0, 0.2, width)[None, None, :, None] + np.linspace(0, 0.1, height)[None, :, None, None]
        return (centre + ramp).astype(np.float32)


def test_the_self_ensemble_flips_every_window_and_flips_each_output_back():
    from keras_spgan.inference.runners import SelfEnsembleRunner

    windows = np.random.default_rng(0).random((2, 5, 6, 8, 3)).astype(np.float32)
    out = SelfEnsembleRunner(_RampRunner())(windows)
    # Flipped back, the content is where it was; the ramp, seen both ways round, averages to its mean.
    np.testing.assert_allclose(out, windows[:, 2] + 0.1 + 0.05, atol=1e-6)


def test_self_ensemble_through_the_cli_and_the_api(trained_tiny_spn, tmp_path):
    spn, path = trained_tiny_spn
    frames = textured_frames(4)
    expected = []
    for axes in ((), (1,), (0,), (0, 1)):  # flip whole frames, deblur, flip back: what the option promises
        flipped = [np.ascontiguousarray(np.flip(f, axes)) for f in frames]
        expected.append([np.flip(o, axes).astype(np.float64) for o in deblur_frames(flipped, spn)])
    expected = np.mean(expected, axis=0)
    plain = np.stack(list(deblur_frames(frames, spn)))
    api = np.stack(list(deblur_frames(frames, spn, self_ensemble=True)))
    assert np.abs(api - expected).max() <= 1.0  # each flipped output was rounded to 8 bits once more
    assert np.abs(api.astype(int) - plain).max() >= 2  # this model is not flip-equivariant: the option does something
    in_dir, out_dir = _frame_folder(tmp_path, frames)
    result = subprocess.run([sys.executable, "-m", "keras_spgan.deblur", in_dir, out_dir, "--model", path,
                             "--self_ensemble", "--quiet"], capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=REPO))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "self-ensemble x4" in result.stdout
    written = [cv2.imread(os.path.join(out_dir, n))[..., ::-1] for n in sorted(os.listdir(out_dir))]
    assert np.abs(np.stack(written).astype(int) - api).max() <= 1
