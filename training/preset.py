"""Turn a training run into a shipped preset, with its measured numbers.

    python -m training.preset --run runs/presets/spn --name spn --recipe training/recipes/spn.flags
    python -m training.preset --run runs/mine --name mine --held_out my_clips/ --out presets/mine
    python -m training.preset --measure spn      # measure a preset again (a new held-out set)

Takes the run's best weights (`best.weights.h5`, else its final model or
newest checkpoint; a checkpoint `RUN/checkpoints/ckpt-N` given as --run, its weights,
the average under --ema; for a `training.fit_jax` run, its result `weights.h5`), stores
them as a float16 preset (config.json, weights.h5, metadata.json) and measures,
in the same command:

- storage parity: the float16-stored preset against the trained float32
  weights (PSNR of the outputs on the held-out clips);
- the held-out clips (`--held_out`'s test split; default `builtin:stills`,
  photos never trained on, on which the shipped presets are compared) and
  the built-in sample's test clips: PSNR / SSIM on RGB and on Y, blurry
  input beside the preset, and per blur length;
- the fast pans of held-out photos (`training.fast_pans`: short-shutter clips,
  sharp frames of fast motion), RGB PSNR, on which the presets are compared too;
- the fast movers (`training.fast_movers`: held-out photos crossed by bending objects
  that the optical flow misses, blurred by camera shake), RGB PSNR.

The preset is written to keras_spgan/presets/NAME (or `--out`) under a
temporary name and renamed when complete; for a shipped preset,
`default.json` then names whichever one restores the held-out clips and the
fast pans best (mean RGB PSNR over all of them, `default_score`) among those
measured on the same clips that lose at most 0.5 dB on average on the fast pans
and on the fast movers. The training data recorded is the set the run's
run.json names.

`--measure NAME_OR_FOLDER` measures an existing preset again on `--held_out`
(its weights and training record stay as they are): after the held-out set
moves to a new version, so that every shipped preset is compared on the same clips.
With `--out FOLDER` the measured copy goes there and the preset itself stays as it is.
"""

import datetime
import json
import os
import shutil
import sys

import numpy as np

from keras_spgan import cli
from keras_spgan.align import ALIGNMENTS
from keras_spgan.errors import ConfigError
from keras_spgan.presets import steps_to_best
from training import fast_movers, fast_pans, fit_jax

DESCRIPTIONS = {
    "spn": "SPN (1-3-5), the paper's full-size generator: the mean of the SPGAN generator's weights and those of "
           "its fine-tune with the PSNR loss on hand-held clips made from photos",
    "spgan": "SPGAN: the SPN fine-tuned against the gradient-space discriminator",
    "spn_strong": "SPN (1-3-5) trained on one GPU (training.fit_jax, batch 64) from spn, then fine-tuned with the "
                  "PSNR loss: deblurs camera shake far more than spn, and ghosts on sharp frames of fast motion",
}


AVERAGE_FILE = "average.json"  # training.average's record of the models it averaged


def read_average(run):
    """The record training.average left in the folder `run`, or None for any other run."""
    path = os.path.join(run, AVERAGE_FILE) if os.path.isdir(run) else ""
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def load_trained(run):
    """The run's SPN with its best weights, rebuilt in float32; (spn, where the weights came from)."""
    import keras

    from keras_spgan.archs.spn import SPN
    from keras_spgan.models.loading import (
        as_generator,
        load_model,
        load_training_weights,
    )

    if fit_jax.is_run(run):  # a GPU run of training.fit_jax: its config and result, read here in float32
        return fit_jax.load_spn(run), os.path.join(run, fit_jax.RESULT_FILE)
    model = load_model(run)
    source = run
    best = os.path.join(run, "best.weights.h5")
    if os.path.isdir(run) and os.path.isfile(best) and not os.path.isfile(os.path.join(run, "model.keras")):
        load_training_weights(model, best)
        source = best
    trained = as_generator(model, run)
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        config = trained.get_config()
        config.update(synchronized_bn=False, frame_size=None)
        spn = SPN.from_config(config)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    spn.set_weights(trained.get_weights())
    return spn, source


def storage_parity(spn, preset_spn, clips):
    """Output PSNR (RGB, [0, 1]) of the stored preset against the trained weights."""
    from keras_spgan import metrics
    from keras_spgan.archs.rgb import build_rgb_deblurrer
    from keras_spgan.data import evaluation_dataset

    reference, stored = build_rgb_deblurrer(spn), build_rgb_deblurrer(preset_spn)
    values, worst = [], 0.0
    for clip in clips[::3]:
        for window, _ in evaluation_dataset(clip, spn.num_frames, channels="rgb").skip(4).take(1):
            a, b = np.asarray(reference(window)), np.asarray(stored(window))
            values.append(float(metrics.psnr(a, b, space="rgb")[0]))
            worst = max(worst, float(np.abs(a - b).max()))
    return {"dtype": "float16", "psnr_vs_float32_db": float(np.mean(values)), "max_abs_diff": worst,
            "windows": len(values)}


def measure(spn, data_dir, log):
    """{"rgb": {"input", "model"}, "y": {...}} averages plus per-clip rows on `data_dir`'s test split."""
    from keras_spgan.data import load_clips
    from training.evaluate import evaluate_rows

    clips = [c for c in load_clips(data_dir, None, "test") if c.sharp is not None]
    result = {"clips": len(clips), "frames": sum(c.num_frames for c in clips)}
    spaces = ("rgb", "y")
    inputs, outputs = evaluate_rows(None, clips, metric_spaces=spaces), evaluate_rows(spn, clips, metric_spaces=spaces)
    for space in spaces:
        rows = {"input": inputs[space], "model": outputs[space]}
        result[space] = {name: row["average"] for name, row in rows.items()}
        result[space]["gain_db"] = rows["model"]["average"]["psnr"] - rows["input"]["average"]["psnr"]
        result[space]["per_clip"] = {c.name: {"input": rows["input"][c.name]["psnr"],
                                              "model": rows["model"][c.name]["psnr"]} for c in clips}
        log(f"  {space}: input {rows['input']['average']['psnr']:.2f} dB / {rows['input']['average']['ssim']:.4f}, "
            f"model {rows['model']['average']['psnr']:.2f} dB / {rows['model']['average']['ssim']:.4f} "
            f"({result[space]['gain_db']:+.2f} dB)")
    return result


def by_blur(measured, clips_json):
    """Held-out RGB gain per blur length (the held-out clips sit on a grid of blur lengths)."""
    with open(clips_json) as f:
        drawn = json.load(f)
    table = {}
    for name, psnr in measured["rgb"]["per_clip"].items():
        key = f"{drawn[name]['blur']:.1f}"
        table.setdefault(key, []).append(psnr["model"] - psnr["input"])
    return {k: float(np.mean(v)) for k, v in sorted(table.items(), key=lambda kv: float(kv[0]))}


def training_record(run):
    """Steps, precision and data of the run, from its own files."""
    from keras_spgan import presets
    from keras_spgan.models.loading import checkpoint_paths, split_checkpoint

    if fit_jax.is_run(run):
        return jax_training_record(run)
    checkpoint = split_checkpoint(run)
    if checkpoint:  # one checkpoint of a run (its average under --ema): the run's record, that step's weights
        record = training_record(checkpoint[0])
        if "total_steps" in record:
            record["total_steps"] += checkpoint[1] - record["steps"]
        record.update(checkpoint=run, steps=checkpoint[1], best_step=checkpoint[1])
        return record
    averaged = read_average(run)
    if averaged is not None:  # training.average's folder: the records of the models it averaged
        steps = max(steps_to_best(m["training"]) for m in averaged["models"])
        return {"averaged": [{"model": m["model"], "weight": m["weight"], "run": m["training"]}
                             for m in averaged["models"]],
                "command": averaged["command"], "steps": steps, "best_step": steps}
    record = {}
    run_json = os.path.join(run, "run.json")
    if os.path.isfile(run_json):
        with open(run_json) as f:
            config = json.load(f)["config"]
        record["config"] = {k: config[k] for k in ("model", "batch_size", "crop", "lr", "mixed_precision",
                                                     "data_dir", "seed", "eval_every", "init_from") if k in config}
    checkpoints = checkpoint_paths(run)
    if checkpoints:
        step, path = checkpoints[-1]
        with open(os.path.join(path, "state.json")) as f:
            state = json.load(f)
        record.update(steps=step, best_step=state["best"]["best_step"], best_val_psnr_db=state["best"]["best"],
                      learning_rate=state["learning_rate"])
    # A run warm-started from another run's checkpoint (a second stage): that run's record too,
    # and the steps of both.
    init_from = record.get("config", {}).get("init_from") or ""
    checkpoint = split_checkpoint(init_from)
    if checkpoint and "steps" in record:
        earlier_run, earlier_step = checkpoint
        earlier = training_record(earlier_run)
        before = earlier.get("total_steps", earlier.get("steps", 0)) - earlier.get("steps", 0)  # its own stages
        record["started_from"] = {"checkpoint": init_from, "step": earlier_step, "run": earlier}
        record["total_steps"] = before + earlier_step + record["steps"]
    elif init_from and "steps" in record and os.path.isfile(os.path.join(init_from, "run.json")):
        # Warm-started from another run's best weights (its folder): that run's record too.
        earlier = training_record(init_from)
        record["started_from"] = {"run_dir": init_from, "steps": steps_to_best(earlier), "run": earlier}
        record["total_steps"] = steps_to_best(earlier) + record["steps"]
    elif init_from and "steps" in record and presets.is_preset(init_from):
        # Fine-tuned from a shipped preset (spgan from spn): the steps behind that preset's weights.
        earlier = presets.metadata(init_from).get("training", {})
        record["started_from"] = {"preset": init_from, "steps": steps_to_best(earlier), "run": earlier}
        record["total_steps"] = steps_to_best(earlier) + record["steps"]
    return record


def jax_training_record(run):
    """A training.fit_jax run's record, with the run or preset it started from (and their steps)."""
    from keras_spgan import presets

    recorded = fit_jax.read_run(run)
    config = recorded["config"]
    record = {"trainer": "training.fit_jax", "config": config, "command": recorded["command"],
              "steps": recorded["steps"], "best_step": recorded["steps"],  # the result is the last step's average
              "held_out_y_psnr_db": {"input": recorded["input_psnr"], "curve": recorded["curve"]},
              "set_sha256": recorded["set_sha256"], "device": recorded["device"],
              "steps_per_s": recorded["steps_per_s"], "jax": recorded["jax"], "keras": recorded["keras"]}
    init_from = config["init_from"]
    if fit_jax.is_run(init_from):
        earlier = jax_training_record(init_from)
        record["started_from"] = {"run_dir": init_from, "steps": steps_to_best(earlier), "run": earlier}
    elif init_from != "none" and presets.is_preset(init_from):
        earlier = presets.metadata(init_from).get("training", {})
        record["started_from"] = {"preset": init_from, "steps": steps_to_best(earlier), "run": earlier}
    if "started_from" in record:
        record["total_steps"] = record["started_from"]["steps"] + record["steps"]
    return record


def write_picture(spn, path, photo="coffee", blur=12.0, size=(240, 320), seed=5):
    """input | restored | sharp on a fresh clip of a held-out photo, labelled, as PNG."""
    import cv2

    from keras_spgan.data import camera, stills
    from keras_spgan.files import atomic_output
    from keras_spgan.inference.stream import deblur_frames

    rng = np.random.default_rng(seed)
    params = camera.draw_params(rng, blur=blur)
    params.objects, params.flat_regions, params.gain = 0, 0, 1.0
    still = stills.load(next(s for s in stills.BUNDLED if s.name == photo))
    blurry, sharp, _ = camera.render_clip(still, rng, params, num_frames=7, size=size)
    restored = list(deblur_frames(blurry, spn))[3]
    panels = []
    for image, label in ((blurry[3], "input"), (restored, "restored"), (sharp[3], "sharp")):
        psnr = fast_pans.psnr(image, sharp[3])
        panel = np.ascontiguousarray(image[..., ::-1])
        text = label if label == "sharp" else f"{label} {psnr:.1f} dB"
        cv2.putText(panel, text, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(panel, text, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 1, cv2.LINE_AA)
        panels.append(panel)
    with atomic_output(path, overwrite=True) as partial:
        if not cv2.imwrite(partial, np.concatenate(panels, axis=1)):
            raise OSError(f"{path}: could not be written")
    return path


def default_score(evaluation):
    """(what it was measured on, score) of a preset's "evaluation": the mean RGB PSNR over the
    held-out photo clips and the fast pans (`training.fast_pans`) together, one value per clip.
    The held-out clips sit on a grid of blur lengths and barely show what the fast pans do: a
    model that reads the blur off the motion between frames damages sharp frames of fast motion,
    which most real video has. Only scores on the same clips compare."""
    photos = evaluation["held_out_photos"]["rgb"]
    pans = evaluation.get("fast_pans")
    clips = (evaluation.get("held_out_data"), pans["protocol"] if pans else None)
    if not pans:
        return clips, photos["model"]["psnr"]
    values = [row["model"] for row in photos["per_clip"].values()] + [
        row["model"] for row in pans["rgb"]["per_clip"].values()]
    return clips, float(np.mean(values))


# The default restores whatever a user gives it, and most video is sharp frames of fast motion:
# a preset that loses more than this on the fast pans (mean RGB PSNR gain, dB) becomes the default
# only if every preset does. Measured: models that deblur strongly by reading blur off the motion
# between frames (spn_strong, 2026-12-04: fast pans -2.05 dB, held-out photo clips +1.40) lose 2-4 dB
# on real footage of fast motion (benchmarks/real_footage.py, bikes: -3.78 / -1.88 at mild / medium
# shake), however much they gain elsewhere.
FAST_PAN_LIMIT_DB = -0.5
# The same for the fast movers (`training.fast_movers`): objects that bend while they cross the view,
# where the optical flow that aligns windows misses. Measured: networks fine-tuned on aligned windows
# (J7, J8: held-out photo clips +0.9 dB over spn_strong, fast pans within the limit above) lost up to
# 5 dB on riders crossing real footage, by trusting neighbours the flow had misplaced.
FAST_MOVER_LIMIT_DB = -0.5
# (evaluation key, what the log and default.json call it, limit)
MOTION_CHECKS = (("fast_pans", "fast pans", FAST_PAN_LIMIT_DB), ("fast_movers", "fast movers", FAST_MOVER_LIMIT_DB))


def motion_gain(evaluation, key):
    """The mean RGB PSNR gain of a preset's "evaluation" on "fast_pans" or "fast_movers" (None if not measured)."""
    clips = evaluation.get(key)
    if not clips:
        return None
    return float(np.mean([row["model"] - row["input"] for row in clips["rgb"]["per_clip"].values()]))


def _describe(clips):
    data, pans = clips
    return f"{data}" + (" and the fast pans" if pans else "")


def choose_default(log):
    """default.json: the shipped preset with the best `default_score`, among the presets measured
    on the clips that most of them were measured on (numbers on other clips do not compare) and
    that lose at most FAST_PAN_LIMIT_DB on the fast pans and FAST_MOVER_LIMIT_DB on the fast movers,
    where measured (all of them, if none does)."""
    from keras_spgan import presets
    from keras_spgan.data import training_set
    from keras_spgan.files import write_json

    by_clips, motion = {}, {}
    for name in presets.list_presets():
        evaluation = presets.metadata(name).get("evaluation", {})
        if "rgb" in evaluation.get("held_out_photos", {}):
            clips, score = default_score(evaluation)
            by_clips.setdefault(clips, {})[name] = score
            motion[name] = {key: motion_gain(evaluation, key) for key, _, _ in MOTION_CHECKS}
    if not by_clips:
        return None
    current = os.path.basename(training_set.default_path(training_set.default_args()))  # builtin:stills, built or not
    # Most presets first; ties: the current builtin:stills, then with the fast pans.
    clips = max(by_clips, key=lambda c: (len(by_clips[c]), c[0] == current, c[1] is not None))
    scores = by_clips[clips]
    for other, group in by_clips.items():
        if other != clips:
            log(f"not compared (measured on other held-out clips, {_describe(other)}): {', '.join(group)}; "
                f"measure them again with --measure")
    losing = {key: {n: motion[n][key] for n in scores if motion[n][key] is not None and motion[n][key] < limit}
              for key, _, limit in MOTION_CHECKS}
    excluded = {n for names in losing.values() for n in names}
    eligible = {n: v for n, v in scores.items() if n not in excluded} or scores
    best = max(eligible, key=eligible.get)
    others = ", ".join(f"{n} {v:.2f} dB" for n, v in scores.items() if n != best) or "no other preset measured there"
    what = "RGB PSNR on the held-out photo clips" + (" and the fast pans" if clips[1] else "")
    why = f"best mean {what} ({clips[0]}): {best} {scores[best]:.2f} dB ({others})"
    if excluded and len(eligible) < len(scores):
        reasons = [f"losing more than {-limit:g} dB on the {label}: " + ", ".join(
            f"{n} {g:+.2f} dB" for n, g in losing[key].items()) for key, label, limit in MOTION_CHECKS if losing[key]]
        why = f"{why}; not eligible, {'; '.join(reasons)}"
        for key, label, limit in MOTION_CHECKS:
            if losing[key]:
                log(f"not the default ({label} below {limit:g} dB): {', '.join(losing[key])}")
    write_json(os.path.join(presets.PRESETS_DIR, presets.DEFAULT_FILE), {"preset": best, "why": why})
    log(f"default preset: {best}")
    return best


def training_data(run, log):
    """The run's training set as its run.json names it, with what that set's sources.json says
    (photos and licences, clip counts) where it has one. Runs from before run.json recorded the
    resolved folder are resolved now (a builtin: name built since is the same set)."""
    from keras_spgan.data import builtin, resolve_data_dir
    from keras_spgan.models.loading import split_checkpoint

    checkpoint = split_checkpoint(run)
    if checkpoint:  # one checkpoint of a run: the run's set
        return training_data(checkpoint[0], log)
    averaged = read_average(run)
    if averaged is not None:  # the sets of the models averaged; the photos of all of them
        photos = {}
        for m in averaged["models"]:
            photos.update({p["name"]: p for p in m["training_data"].get("photos", [])})
        return {"dataset": [m["training_data"].get("dataset") for m in averaged["models"]],
                "averaged": [m["training_data"] for m in averaged["models"]], "photos": list(photos.values())}
    run_json = os.path.join(run, "run.json") if os.path.isdir(run) else ""
    if not os.path.isfile(run_json):
        log(f"training data: {run} has no run.json; not recorded")
        return {"dataset": None}
    with open(run_json) as f:
        recorded = json.load(f)
    name = recorded["config"].get("data_dir")
    folder = recorded.get("data_dir") or (resolve_data_dir(name) if builtin.is_builtin(name) else name)
    record = {"dataset": name, "folder": os.path.basename(os.path.normpath(folder)) if folder else None}
    sources_json = os.path.join(folder or "", "sources.json")
    if not os.path.isfile(sources_json):
        return record
    with open(sources_json) as f:
        sources = json.load(f)
    named = sources.get("sources", [])
    record.update(arguments=sources.get("arguments"), clips=sources.get("clips"), frames=sources.get("frames"),
                  photos=[s for s in named if not s["name"].startswith("procedural_")],
                  procedural_scenes=sum(s["name"].startswith("procedural_") for s in named))
    return record


def evaluation(spn, stills_dir, log):
    """metadata.json's "evaluation": the held-out clips of `stills_dir` and the sample's test clips."""
    from keras_spgan.data import resolve_data_dir

    log("held-out photo clips:")
    held_out = measure(spn, stills_dir, log)
    drawn = os.path.join(stills_dir, "clips.json")  # a training set's record of each clip's blur
    if os.path.isfile(drawn):
        held_out["rgb"]["gain_by_blur_length_db"] = by_blur(held_out, drawn)
    log("sample test clips:")
    sample = measure(spn, resolve_data_dir("builtin:sample"), log)
    result = {
        "held_out_data": os.path.basename(os.path.normpath(stills_dir)),
        "protocol": "every frame; outputs RGB rounded to 8 bits; PSNR/SSIM on RGB and on BT.601 Y, no border "
                    "crop; averages are means over clips of per-clip means",
        "held_out_photos": held_out,
        "sample_test": sample,
    }
    if fast_pans.available():
        log("fast pans of held-out photos (short shutter):")
        result["fast_pans"] = fast_pans.measure(spn, log)
    else:
        log('fast pans: not measured (their held-out photos need pip install "keras-spgan[stills]")')
    if fast_movers.available():
        log("fast movers over held-out photos (bending objects the flow misses):")
        result["fast_movers"] = fast_movers.measure(spn, log)
    return result


def measure_again(args, log=print):
    """--measure: the preset's "evaluation" measured on --held_out; weights and the rest kept.
    With --out, a copy of the preset is measured there and the preset itself is left alone."""
    from keras_spgan import presets
    from keras_spgan.data import resolve_data_dir
    from keras_spgan.files import atomic_output, write_json

    folder = presets.preset_dir(args.measure)
    meta = presets.metadata(folder)
    with open(os.path.join(folder, presets.CONFIG_FILE)) as f:
        config = json.load(f)
    spn = presets.from_preset(folder)
    alignment = getattr(args, "alignment", None)
    if alignment and alignment != spn.alignment:
        # The same weights, fed otherwise: the record says so, and the recipe ends with this command.
        from keras_spgan.archs.spn import SPN

        meta["alignment_changed"] = {"from": spn.alignment, "to": alignment,
                                     "date": datetime.date.today().isoformat(), "weights": "unchanged"}
        config["config"]["alignment"] = alignment
        meta["recipe"] = f"{meta.get('recipe', '')} && python -m training.preset --measure " \
                         f"{meta.get('name', os.path.basename(folder))} --alignment {alignment}".lstrip(" &")
        aligned = SPN.from_config({**spn.get_config(), "alignment": alignment})
        aligned.set_weights(spn.get_weights())
        spn = aligned
    meta["evaluation"] = evaluation(spn, resolve_data_dir(args.held_out), log)
    meta["evaluation"]["date"] = datetime.date.today().isoformat()
    target = args.out or folder
    with atomic_output(target, overwrite=True) as partial:  # the folder is replaced whole, or not at all
        shutil.copytree(folder, partial, dirs_exist_ok=True)
        write_json(os.path.join(partial, presets.CONFIG_FILE), config)
        write_json(os.path.join(partial, presets.METADATA_FILE), meta)
    folder = target
    log(f"measured {folder} again")
    if os.path.dirname(os.path.abspath(folder)) == presets.PRESETS_DIR:
        choose_default(log)
    return folder


def recipe(args):
    """The commands that rebuild the preset's weights: the run's flagfile, then, for
    training.average's folder, the averaging command."""
    if fit_jax.is_run(args.run):
        return " && ".join(jax_commands(args.run))
    from keras_spgan.models.loading import split_checkpoint

    commands = [f"python -m training.fit --flagfile {args.recipe}"] if args.recipe else []
    checkpoint = split_checkpoint(args.run)
    run = checkpoint[0] if checkpoint else args.run
    run_json = os.path.join(run, "run.json") if os.path.isdir(run) else ""
    if commands and os.path.isfile(run_json):  # a fine-tune of a fit_jax run: that run's commands first
        with open(run_json) as f:
            commands = jax_commands(json.load(f)["config"].get("init_from") or "") + commands
    if commands and checkpoint:  # the preset is that checkpoint's weights, not the run's best
        commands.append(f"python -m training.preset --run {args.run} --name {args.name}")
    averaged = read_average(args.run)
    if averaged is not None and averaged.get("command"):
        commands.append(averaged["command"])
    return " && ".join(commands) or None


def jax_commands(run):
    """The commands of every training.fit_jax stage behind `run`, the first first ([] for another run)."""
    commands = []
    while fit_jax.is_run(run):
        recorded = fit_jax.read_run(run)
        commands.insert(0, recorded["command"])
        run = recorded["config"]["init_from"]
    return commands


def make_preset(args, log=print):
    import keras_spgan
    from keras_spgan import presets
    from keras_spgan.data import load_clips, resolve_data_dir
    from keras_spgan.files import atomic_output, write_json

    spn, source = load_trained(args.run)
    log(f"weights: {source}")
    stills_dir = resolve_data_dir(args.held_out)
    target = args.out or os.path.join(presets.PRESETS_DIR, args.name)
    with atomic_output(target, overwrite=True) as partial:
        meta = {
            "name": args.name,
            "description": args.description or DESCRIPTIONS.get(args.name, ""),
            "keras_spgan_version": keras_spgan.__version__,
            "date": datetime.date.today().isoformat(),
            "recipe": recipe(args),
            "training": training_record(args.run),
            "training_data": training_data(args.run, log),
        }
        presets.save_preset(spn, partial, meta)
        stored = presets.from_preset(partial)
        held_out_clips = [c for c in load_clips(stills_dir, None, "test") if c.sharp is not None]
        if not held_out_clips:
            raise ConfigError("held_out", f"{args.held_out}: no test clips with sharp frames")
        meta["storage"] = storage_parity(spn, stored, held_out_clips)
        log(f"float16 storage: {meta['storage']['psnr_vs_float32_db']:.1f} dB from the float32 weights")
        meta["evaluation"] = evaluation(stored, stills_dir, log)
        write_json(os.path.join(partial, presets.METADATA_FILE), meta)  # the weights are written already
    log(f"wrote preset {target}")
    if args.picture:
        log(f"wrote {write_picture(stored, args.picture)}")
    if os.path.dirname(os.path.abspath(target)) == presets.PRESETS_DIR:
        choose_default(log)  # a shipped preset; a folder elsewhere leaves the default alone
    return target


def add_arguments(parser):
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--run", help="training model dir (or .keras file) to make a preset of")
    what.add_argument("--measure", metavar="PRESET", help="measure this preset (name or folder) again on --held_out, "
                                                         "keeping its weights and training record")
    parser.add_argument("--name", help="preset name (a folder under keras_spgan/presets); needed with --run")
    parser.add_argument("--recipe", help="the flagfile the run was trained with (recorded in metadata.json)")
    parser.add_argument("--description")
    parser.add_argument("--picture", help="also write input | restored | sharp on a held-out photo to this PNG")
    parser.add_argument("--held_out", default="builtin:stills",
                        help="data whose test split measures the preset (a folder or builtin: name; default: "
                             "builtin:stills, on which the shipped presets are compared)")
    parser.add_argument("--alignment", choices=ALIGNMENTS, default=None,
                        help="with --measure: feed the preset's network windows aligned this way from now on "
                             "(its config's \"alignment\"; the weights stay), recorded in its metadata and recipe")
    parser.add_argument("--out", help="write the preset folder here instead of keras_spgan/presets/NAME (with "
                                      "--measure: a measured copy of the preset); it then works as --model FOLDER "
                                      "and the default preset is left alone")


def check_held_out(data_dir):
    from keras_spgan.data import builtin

    if builtin.is_builtin(data_dir):
        try:
            builtin.check(data_dir)
        except ValueError as error:
            raise ConfigError("held_out", str(error)) from None
    elif not os.path.isdir(data_dir):
        raise ConfigError("held_out", f"{data_dir}: no such folder")


def run(args):
    from keras_spgan import presets
    from keras_spgan.models.loading import ModelLoadError

    check_held_out(args.held_out)
    if args.out and os.path.exists(args.out) and not presets.is_preset(args.out):
        raise ConfigError("out", f"{args.out} exists and is not a preset folder; it is left as it is")
    if getattr(args, "alignment", None) and not args.measure:
        raise ConfigError("alignment", "applies to --measure: a run's network carries the alignment it trained with")
    if args.measure:
        if not presets.is_preset(args.measure):
            names = ", ".join(presets.list_presets()) or "none in this install"
            raise ConfigError("measure", f"{args.measure}: not a preset name nor a preset folder (presets: {names})")
        measure_again(args, log=lambda line: print(line, file=sys.stderr))
        return 0
    if not args.name or not args.name.isidentifier():
        raise ConfigError("name", f"must be a plain name like spn, got {args.name!r}")
    if not os.path.exists(args.run):
        raise ConfigError("run", f"{args.run}: no such file or directory")
    try:
        make_preset(args, log=lambda line: print(line, file=sys.stderr))
    except ModelLoadError as error:
        raise ConfigError("run", str(error)) from None
    return 0


def main(argv=None):
    """`keras-spgan preset ...` (argv without the command name)."""
    return cli.main(["preset", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    cli.alias("preset")
