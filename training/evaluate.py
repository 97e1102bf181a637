"""Per-video PSNR / SSIM in the layout of the paper's Table 2.

  python -m training.evaluate --model input --model runs/spn --data_dir /data/DVD --output results.json

`--model` may be repeated: each is one row. `input` is the blurry input
itself (the paper's INPUT row); anything else is a training model dir, a
`.keras` file, or an exported model (SavedModel dir, `.tflite`, `.onnx`), so
that the table measures what is deployed. The protocol (colour space, border crop, frames, rounding) is
an explicit choice, printed with the table and stored in the JSON:
  - outputs are RGB (the SPN's Y with the blurry centre frame's chroma),
    rounded to 8 bits as they would be written to disk;
  - metric_space y: BT.601 luma (MATLAB rgb2ycbcr), as DBN / STFAN / the paper;
  - frames all: every frame; dbn30: DBN's 30 frames per video, frame numbers
    floor(linspace(2, 97, 30)) counted from 1 (MATLAB), i.e. indices - 1;
  - a video's value is the mean over its frames; "average" is the mean of the
    videos' values (each video weighs the same, as in the paper's table).
"""

import csv
import io
import json
import os
import sys

import numpy as np

from keras_spgan import cli
from keras_spgan.align import ALIGNMENTS
from keras_spgan.flags import add_bool
from keras_spgan.progress import ProgressLine
from keras_spgan.files import atomic_output
from training.config import ConfigError

INPUT_ROW = "INPUT"
FRAME_SETS = ("all", "dbn30")
METRIC_SPACES = ("y", "rgb")
OUTPUT_SUFFIXES = (".json", ".csv", ".md", ".markdown")


def dbn30_indices(num_frames, video="video"):
    numbers = np.floor(np.linspace(2, 97, 30)).astype(int)
    if num_frames < numbers[-1]:
        raise ConfigError("frames", f"dbn30 needs at least {numbers[-1]} frames; {video} has {num_frames}")
    return [int(n) - 1 for n in numbers]


def frame_indices(clip, frames):
    return list(range(clip.num_frames)) if frames == "all" else dbn30_indices(clip.num_frames, clip.folder)


def restored_frames(model, clip, alignment=None):
    """(restored, sharp) RGB uint8 frames of `clip`, in order, through the same reader, windows,
    runner and 8-bit rounding that `keras-spgan deblur` writes with (keras_spgan.inference.stream);
    `model` is a runner or anything `as_runner` takes; None is the blurry input itself.
    `alignment`: as `deblur_pairs` (None: as the model was trained)."""
    from keras_spgan.data.frames import read_rgb
    from keras_spgan.inference.stream import deblur_pairs

    blurry = (read_rgb(path) for path in clip.blurry)
    sharp = (read_rgb(path) for path in clip.sharp)
    if model is None:
        return zip(blurry, sharp)
    pairs = deblur_pairs(blurry, model, alignment=alignment)
    return ((restored, target) for (_, restored), target in zip(pairs, sharp))


def evaluate_row(model, clips, *, metric_space="y", crop_border=0, frames="all", progress=None, alignment=None):
    """{video: {"psnr", "ssim"}, ..., "average": {...}} for one model: an SPN, a runner
    (any exported form, see `keras_spgan.inference`) or None (the blurry input)."""
    return evaluate_rows(model, clips, metric_spaces=(metric_space,), crop_border=crop_border, frames=frames,
                         progress=progress, alignment=alignment)[metric_space]


def evaluate_rows(model, clips, *, metric_spaces=("y",), crop_border=0, frames="all", progress=None,
                  alignment=None):
    """{space: row} as `evaluate_row` gives, for several metric spaces from one pass of the model."""
    from keras_spgan import metrics
    from keras_spgan.inference.stream import as_runner

    runner = None if model is None else as_runner(model)  # one runner (and one traced graph) for every clip
    rows = {space: {} for space in metric_spaces}
    for clip in clips:
        wanted = set(frame_indices(clip, frames))
        values = {space: {"psnr": [], "ssim": []} for space in metric_spaces}
        for index, (restored, sharp) in enumerate(restored_frames(runner, clip, alignment)):
            if index not in wanted:
                continue
            output = (restored[None].astype(np.float32) / 255.0)
            target = (sharp[None].astype(np.float32) / 255.0)
            for space in metric_spaces:
                options = dict(space=space, crop_border=crop_border)
                values[space]["psnr"].append(float(metrics.psnr(target, output, **options)[0]))
                values[space]["ssim"].append(float(metrics.ssim(target, output, **options)[0]))
            if progress:
                progress()
        for space in metric_spaces:
            rows[space][clip.name] = {name: float(np.mean(v)) for name, v in values[space].items()}
    for row in rows.values():
        row["average"] = {name: float(np.mean([row[c.name][name] for c in clips])) for name in ("psnr", "ssim")}
    return rows


def protocol(data_dir, data_format, split, metric_space, crop_border, frames):
    return {
        "data_dir": os.path.abspath(data_dir),
        "data_format": data_format,
        "split": split,
        "metric_space": metric_space,
        "crop_border": crop_border,
        "frames": frames,
        "output": "RGB rounded to 8 bits (SPN luma + blurry centre chroma)",
        "average": "mean over videos of the per-video mean over frames",
    }


def format_table(result, metric, style="text"):
    """One metric as a table: videos as columns, one row per model."""
    rows = result["rows"]
    videos = [v for v in next(iter(rows.values())) if v != "average"] + ["average"]
    digits = 2 if metric == "psnr" else 4
    cells = [[name] + [f"{row[v][metric]:.{digits}f}" for v in videos] for name, row in rows.items()]
    header = [metric.upper()] + videos
    if style == "csv":
        out = io.StringIO()
        csv.writer(out).writerows([header] + cells)
        return out.getvalue()
    if style == "markdown":
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(lines + ["| " + " | ".join(c) + " |" for c in cells]) + "\n"
    widths = [max(len(r[i]) for r in [header] + cells) for i in range(len(header))]
    return "\n".join("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
                     for r in [header] + cells) + "\n"


def describe_protocol(p):
    return (f"protocol: {p['data_format']} {p['split']} split of {p['data_dir']}; metrics on {p['metric_space'].upper()}"
            f", border crop {p['crop_border']} px, frames {p['frames']}; {p['output']}; average = {p['average']}")


def check_outputs(paths):
    """Fails before any work on an output name we cannot write."""
    for path in paths:
        if os.path.splitext(path)[1].lower() not in OUTPUT_SUFFIXES:
            raise ConfigError("output", f"{path}: use a .json, .csv or .md file name")
        if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            raise ConfigError("output", f"{path}: the folder does not exist")


def write_outputs(result, paths):
    """Writes the result as .json, .csv or .md by suffix, each via a temporary name."""
    for path in paths:
        suffix = os.path.splitext(path)[1].lower()
        if suffix == ".json":
            text = json.dumps(result, indent=1)
        elif suffix == ".csv":
            text = format_table(result, "psnr", "csv") + format_table(result, "ssim", "csv")
        elif suffix in (".md", ".markdown"):
            text = (f"{describe_protocol(result['protocol'])}\n\n" + format_table(result, "psnr", "markdown")
                    + "\n" + format_table(result, "ssim", "markdown"))
        else:
            raise ConfigError("output", f"{path}: use a .json, .csv or .md file name")
        with atomic_output(path, overwrite=True) as partial:
            with open(partial, "w") as f:
                f.write(text)


def row_name(spec, taken):
    if spec == "input":
        name = INPUT_ROW
    else:
        path = os.path.normpath(spec)
        name = os.path.basename(path)
        for extension in (".keras", ".tflite", ".onnx"):
            name = name[: -len(extension)] if name.endswith(extension) else name
        if name == "model":  # runs/spn/model.keras -> spn
            name = os.path.basename(os.path.dirname(path))
        elif name.isdigit():  # a SavedModel version: models/deblur/3 -> deblur-v3
            name = f"{os.path.basename(os.path.dirname(path))}-v{name}"
    base, i = name, 2
    while name in taken:
        name, i = f"{base}-{i}", i + 1
    return name


def with_self_ensembles(models, names):
    """(models, names) with each model followed by its self-ensemble, "<name> (self-ensemble)"."""
    from keras_spgan.inference.runners import SelfEnsembleRunner

    all_models, all_names = [], []
    for model, name in zip(models, names):
        all_models.append(model)
        all_names.append(name)
        if model is not None:
            all_models.append(SelfEnsembleRunner(model))
            all_names.append(row_name(f"{name} (self-ensemble)", names + all_names))
    return all_models, all_names


def run(FLAGS):  # the parsed flags (argparse), named as absl's were
    from keras_spgan.data import DatasetError, detect_format, load_clips, resolve_data_dir
    from keras_spgan.data.builtin import is_builtin
    from keras_spgan.inference import load_runner
    from keras_spgan.inference.stream import resolved_alignment
    from keras_spgan.models import ModelLoadError

    check_outputs(FLAGS.output)
    if FLAGS.crop_border < 0:
        raise ConfigError("crop_border", f"must be >= 0, got {FLAGS.crop_border}")
    if FLAGS.data_dir is not None and not is_builtin(FLAGS.data_dir) and not os.path.isdir(FLAGS.data_dir):
        raise ConfigError("data_dir", f"{FLAGS.data_dir}: no such directory")
    models, names = [], []
    for spec in FLAGS.model or ["input"]:
        if spec == "input":
            model = None
        else:
            try:
                model = load_runner(spec)
            except ModelLoadError as error:
                raise ConfigError("model", str(error)) from None
        models.append(model)
        names.append(row_name(spec, names))
    split = FLAGS.split
    try:
        data_dir = resolve_data_dir(FLAGS.data_dir)
        clips = load_clips(data_dir, FLAGS.data_format, split)
    except DatasetError as error:
        if split != "test":
            raise ConfigError("data_dir", str(error)) from None
        try:  # e.g. split.json lists no test clip: measure every clip, and say so
            clips, split = load_clips(data_dir, FLAGS.data_format, "all"), "all"
        except DatasetError:
            raise ConfigError("data_dir", str(error)) from None
        print(f"note: {data_dir} has no test clips; evaluating all of its clips", file=sys.stderr)
    clips = [c for c in clips if c.sharp is not None]
    if not clips:
        raise ConfigError("data_dir", f"{data_dir}: no {split} clips with sharp frames to compare with")
    for spec, model in zip(FLAGS.model or [], models):
        fixed = getattr(model, "frame_size", None)
        other = [c for c in clips if fixed and tuple(c.size) != tuple(fixed)]
        if other:
            raise ConfigError("model", f"{spec} takes {fixed[1]}x{fixed[0]} frames only, but {other[0].folder} has "
                                       f"{other[0].size[1]}x{other[0].size[0]}: export it with that --input_size")
    if FLAGS.self_ensemble:  # an ensemble takes its model's frame size: checked above
        models, names = with_self_ensembles(models, names)
    # Also checks every clip against --frames now, not after the first model.
    total = sum(len(frame_indices(c, FLAGS.frames)) for c in clips)
    fmt = FLAGS.data_format or detect_format(data_dir)
    result = {"protocol": protocol(data_dir, fmt, split, FLAGS.metric_space, FLAGS.crop_border, FLAGS.frames),
              "rows": {}}
    for name, model in zip(names, models):
        bar = ProgressLine(total, unit="frames") if FLAGS.progress else None
        aligned = "" if model is None else resolved_alignment(model, FLAGS.alignment)
        print(f"evaluating {name} on {len(clips)} videos"
              + (f" (windows aligned by {aligned})" if aligned not in ("", "none") else ""), flush=True)
        result["rows"][name] = evaluate_row(
            model, clips, metric_space=FLAGS.metric_space, crop_border=FLAGS.crop_border, frames=FLAGS.frames,
            progress=(lambda b=bar: b.update()) if bar else None, alignment=FLAGS.alignment,
        )
        if aligned:
            result.setdefault("alignment", {})[name] = aligned
        if bar:
            bar.close()
    print(describe_protocol(result["protocol"]))
    print(format_table(result, "psnr"))
    print(format_table(result, "ssim"))
    write_outputs(result, FLAGS.output)
    return 0


def add_arguments(parser):
    parser.add_argument("--model", action="append", metavar="MODEL",
                        help="`input` (the blurry input), a preset name (spn, spgan), a training model dir, a .keras "
                             "file, a SavedModel dir, a .tflite or an .onnx file; repeat for several rows "
                             "(default: input)")
    parser.add_argument("--data_dir", metavar="DIR", help="dataset root, or builtin:sample (the default) / "
                                                           "builtin:stills / builtin:stills-v2 (held-out photo clips "
                                                           "in its test split)")
    parser.add_argument("--data_format", choices=["dvd", "gopro", "frames", "pairs"],
                        help="dataset layout; default: detected")
    parser.add_argument("--split", default="test", choices=["test", "train", "all"], help="which clips")
    parser.add_argument("--metric_space", default="y", choices=METRIC_SPACES, help="PSNR/SSIM on luma (y) or RGB")
    parser.add_argument("--crop_border", type=int, default=0, help="pixels dropped at each border before the metrics")
    parser.add_argument("--frames", default="all", choices=FRAME_SETS, help="all frames, or DBN's 30 per video")
    parser.add_argument("--self_ensemble", action="store_true",
                        help="every model also with the self-ensemble (`deblur --self_ensemble`), as a row of its own")
    parser.add_argument("--alignment", choices=ALIGNMENTS, default=None,
                        help="align every window by optical flow (flow) or not (none) before each model; default: "
                             "as each model was trained (`deblur --alignment`)")
    parser.add_argument("--output", action="append", default=[], metavar="FILE",
                        help="write the result to FILE.json (also .csv, .md); repeatable")
    add_bool(parser, "progress", True, "show a progress bar")


if __name__ == "__main__":
    cli.alias("evaluate")
