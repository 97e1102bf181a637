"""Average the weights of SPNs that share a training history: a "model soup".

    python -m training.average spgan runs/presets/spn-v7 --out runs/presets/spn-soup
    python -m training.average spgan spn --weights 0.7 0.3 --out runs/soup
    python -m training.preset --run runs/presets/spn-soup --name spn --recipe ...   # measured like a run

Networks fine-tuned from one network stay in one basin of the loss, and the
weighted mean of their weights often restores better than either alone
(Wortsman et al., "Model soups", 2022): here the SPGAN generator (sharper
on strong blur) and the SPN fine-tuned from it with the PSNR loss (no harm
to sharp frames). Networks trained apart do not average into anything
useful; nothing checks that here, `training.preset` measures the result.

The models are presets, `.keras` files or training model dirs (a run's best
weights, as `training.preset` takes them); the SPNs must have one architecture.
BatchNormalization's moving statistics are averaged like every other weight. Writes OUT/model.keras (the averaged SPN, float32)
and OUT/average.json (the command, each model with its weight and training
record), under a temporary name renamed when complete: OUT then works as
`--model OUT`, `--init_from OUT` and `training.preset --run OUT`.
"""

import datetime
import os
import shlex
import sys

import numpy as np

from keras_spgan import cli
from keras_spgan.errors import ConfigError
from training import fit_jax

# Config entries that may differ between models of one architecture (load_trained already sets
# synchronized_bn and frame_size alike and builds every model in float32).
_INCIDENTAL = ("name", "trainable", "dtype")


def mixing_weights(models, weights):
    """The weights normalised to sum 1 (equal when not given); ConfigError naming --weights."""
    if weights is None:
        return [1.0 / len(models)] * len(models)
    if len(weights) != len(models):
        raise ConfigError("weights", f"{len(weights)} weight(s) for {len(models)} models: give one per model")
    if any(not w >= 0 for w in weights) or not sum(weights) > 0:
        raise ConfigError("weights", f"must be >= 0 and not all 0, got {weights}")
    return [w / sum(weights) for w in weights]


def average_spns(spns, weights):
    """The first of `spns` (float32, as `load_trained` gives them) with every weight replaced by the
    weighted mean of all of theirs; ConfigError naming --models unless they share one architecture."""
    configs = [{k: v for k, v in s.get_config().items() if k not in _INCIDENTAL} for s in spns]
    for i, config in enumerate(configs[1:], 1):
        if config != configs[0]:
            differing = sorted(k for k in set(config) | set(configs[0]) if config.get(k) != configs[0].get(k))
            raise ConfigError("models", f"model {i + 1} is another architecture than model 1 (differs in {differing})")
    values = []
    for variables in zip(*(s.weights for s in spns)):
        arrays = [np.asarray(v.numpy()) for v in variables]
        if np.issubdtype(arrays[0].dtype, np.floating):
            values.append(sum(w * a.astype(np.float64) for w, a in zip(weights, arrays)).astype(arrays[0].dtype))
        else:  # counters: the first model's
            values.append(arrays[0])
    spns[0].set_weights(values)
    return spns[0]


def source_record(model, log):
    """What a model to average was trained on and how long: a preset's metadata, or a run's record."""
    from keras_spgan import presets
    from training.preset import training_data, training_record

    if presets.is_preset(model) and not fit_jax.is_run(model):
        meta = presets.metadata(model)
        return {"model": model, "preset": True, "training": meta.get("training", {}),
                "training_data": meta.get("training_data", {})}
    # a run, one checkpoint of a run (its average under --ema: the run's record at that step) or a fit_jax run
    return {"model": model, "training": training_record(model), "training_data": training_data(model, log)}


def average(models, weights, out, overwrite=False, log=print, command=None):
    """Writes the averaged SPN and its record to the folder `out`; returns `out`."""
    from keras_spgan.files import atomic_output, write_json
    from keras_spgan.models.loading import ModelLoadError
    from training.preset import AVERAGE_FILE, load_trained

    weights = mixing_weights(models, weights)
    spns = []
    for model in models:
        try:
            spn, source = load_trained(model)  # a run's best weights, as training.preset takes them
        except ModelLoadError as error:
            raise ConfigError("models", str(error)) from None
        spns.append(spn)
        log(f"loaded {source}")
    averaged = average_spns(spns, weights)
    record = {
        "command": command,
        "date": datetime.date.today().isoformat(),
        "models": [{**source_record(m, log), "weight": w} for m, w in zip(models, weights)],
    }
    with atomic_output(out, overwrite=overwrite) as partial:
        os.makedirs(partial)
        averaged.save(os.path.join(partial, "model.keras"))
        write_json(os.path.join(partial, AVERAGE_FILE), record)
    log(f"wrote {out}: " + " + ".join(f"{w:.3g} x {m}" for m, w in zip(models, weights)))
    return out


def add_arguments(parser):
    parser.add_argument("models", nargs="+", metavar="MODEL",
                        help="two or more SPNs of one architecture: presets, .keras files or training model dirs")
    parser.add_argument("--weights", type=float, nargs="+", metavar="W",
                        help="one weight per model (normalised to sum 1); default: equal")
    parser.add_argument("--out", required=True, metavar="DIR", help="the folder to write (model.keras, average.json)")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")


def run(args):
    if len(args.models) < 2:
        raise ConfigError("models", f"give at least two models to average, got {len(args.models)}")
    if os.path.lexists(args.out) and not args.overwrite:
        raise ConfigError("out", f"{args.out} exists (pass --overwrite to replace it)")
    argv = ["python", "-m", "training.average", *args.models]
    if args.weights:
        argv += ["--weights", *map(str, args.weights)]
    average(args.models, args.weights, args.out, overwrite=args.overwrite,
            log=lambda line: print(line, file=sys.stderr), command=shlex.join([*argv, "--out", args.out]))
    return 0


def main(argv=None):
    """`keras-spgan average ...` (argv without the command name)."""
    return cli.main(["average", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    cli.alias("average")
