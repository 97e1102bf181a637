"""The paper's Table 3 in one command: train and evaluate each pyramid variant.

  python -m training.ablation --steps 2000 --model_dir runs/ablation --output table3.json

Takes every training.fit flag (they apply to each variant; --scales is replaced
by --variants), trains the variants one after the other under ONE strategy (a
second MirroredStrategy in a process fails, tensorflow/tensorflow#62790), each
in <model_dir>/spn_<scales> (so a re-run resumes and skips finished variants),
then evaluates them and the blurry input on the test split with
training.evaluate's protocol, and prints the table.
"""

import dataclasses
import os
import sys

from keras_spgan import cli
from keras_spgan.errors import TERMINATED
from training import fit
from training.config import ConfigError, parse_scales

PAPER_VARIANTS = "1;5;1,3;3,5;1,3,5;1,3,5,7"


def add_arguments(parser):
    fit.add_arguments(parser)  # every training flag applies to each variant
    parser.add_argument("--variants", default=PAPER_VARIANTS,
                        help=f"pyramid scales per variant, separated by ';' (default: {PAPER_VARIANTS})")
    parser.add_argument("--output", action="append", default=[], metavar="FILE",
                        help="write the table to FILE.json (also .csv, .md); repeatable")
    parser.add_argument("--metric_space", default="y", choices=["y", "rgb"], help="evaluation: luma or RGB")
    parser.add_argument("--crop_border", type=int, default=0, help="evaluation: pixels dropped at each border")


def variant_name(scales):
    return "SPN(" + "-".join(map(str, scales)) + ")"


def run_ablation(base, variants, strategy, *, metric_space="y", crop_border=0, outputs=(), log=print):
    """Trains each variant (resuming where possible), evaluates all; returns the result dict."""
    import keras

    from keras_spgan.data import load_clips, resolve_data_dir
    from keras_spgan.models import load_generator
    from training import evaluate, loop

    root = base.resolved_model_dir() if base.model_dir else os.path.join("runs", "ablation")
    runs = []
    for scales in variants:
        config = dataclasses.replace(base, scales=tuple(scales), model_dir=os.path.join(root, "spn_" + "-".join(
            map(str, scales))))
        config.validate()
        log(f"== {variant_name(scales)} -> {config.model_dir}")
        # Seeded per variant, as training.fit seeds a run: each variant starts from the same
        # weights and data order whether it runs first, last, or alone after a resume.
        keras.utils.set_random_seed(config.seed)
        trained = loop.train(config, strategy, log=log)
        if trained.interrupted:
            raise KeyboardInterrupt(f"interrupted while training {variant_name(scales)}; re-run to resume")
        runs.append((variant_name(scales), config.model_dir))
    data_dir = resolve_data_dir(base.data_dir)
    clips = [c for c in load_clips(data_dir, base.data_format, "test") if c.sharp is not None]
    if not clips:
        raise ConfigError("data_dir", f"{data_dir}: no test clips with sharp frames to evaluate the variants on")
    result = {
        "protocol": evaluate.protocol(data_dir, base.data_format or "detected", "test", metric_space, crop_border,
                                      "all"),
        "rows": {},
    }
    options = dict(metric_space=metric_space, crop_border=crop_border)
    result["rows"][evaluate.INPUT_ROW] = evaluate.evaluate_row(None, clips, **options)
    for name, model_dir in runs:
        result["rows"][name] = evaluate.evaluate_row(load_generator(model_dir), clips, **options)
    log(evaluate.describe_protocol(result["protocol"]))
    log(evaluate.format_table(result, "psnr"))
    log(evaluate.format_table(result, "ssim"))
    evaluate.write_outputs(result, outputs)
    return result


def run(args):
    import tensorflow as tf

    from training import evaluate

    tf.get_logger().setLevel("WARNING")  # tf.distribute logs every all-reduce at INFO, as in training.fit
    if args.scales is not None:
        raise ConfigError("scales", "use --variants with training.ablation")
    variants = [parse_scales(v, "variants") for v in args.variants.split(";") if v.strip()]
    if not variants:
        raise ConfigError("variants", "no variant given")
    evaluate.check_outputs(args.output)
    base, strategy = fit.config_and_strategy(args)
    try:
        run_ablation(base, variants, strategy, metric_space=args.metric_space, crop_border=args.crop_border,
                     outputs=args.output)
    except KeyboardInterrupt as stop:  # raised by the loop after a SIGTERM, its checkpoint saved
        print(f"{stop}", file=sys.stderr)
        return TERMINATED
    return 0


if __name__ == "__main__":
    cli.alias("ablation")
