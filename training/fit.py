"""Train SPN, SPGAN or SPGAN-plain: `python -m training.fit --strategy mirrored`.

With no other flag it trains the full-size SPN for 800 steps (about 10
minutes on a 2-core CPU) on the built-in sample dataset and saves runs/spn/model.keras. Re-running the same
command resumes from the last checkpoint. Scaling up:

  your data     --data_dir /data/DVD (dvd, gopro, frames or pairs layout; see README)
  longer        --steps 200000 (the paper trains to a plateau of the loss, lr / 10 on plateaus)
  GPUs          --strategy mirrored uses every visible GPU; --batch_size is global
  workers       --strategy multi_worker with TF_CONFIG set on every worker
  then SPGAN    --model spgan --init_from runs/spn --model_dir runs/spgan
"""

import os
import sys

from absl import app, flags

from keras_spgan import absl_cli
from keras_spgan.errors import OutputError
from training.config import DEFAULT_STEPS, ConfigError, TrainConfig, parse_json_object, parse_scales

FLAGS = flags.FLAGS
_ = flags.DEFINE_enum("strategy", "mirrored", ["default", "one_device", "mirrored", "multi_worker"],
                      "tf.distribute strategy. mirrored: all GPUs (or --cpu_replicas CPU devices); "
                      "multi_worker: MultiWorkerMirroredStrategy from TF_CONFIG.")
_ = flags.DEFINE_integer("cpu_replicas", 0, "Without GPUs, split the CPU into this many replicas (mirrored only).")
_ = flags.DEFINE_enum("model", "spn", ["spn", "spgan", "spgan_plain"],
                      "spn: the generator alone; spgan: adversarial training with the gradient-space "
                      "discriminator; spgan_plain: the same with a pixel-space discriminator.")
_ = flags.DEFINE_string("scales", "1,3,5", "Pyramid scales (paper Table 3 variants: 1 / 5 / 1,3 / 3,5 / 1,3,5 / 1,3,5,7).")
_ = flags.DEFINE_string("spn_config", "", "JSON object (or .json file) of extra SPN arguments, e.g. "
                        '\'{"num_res_blocks": 3}\'.')
_ = flags.DEFINE_string("discriminator_config", "", "JSON object (or .json file) of extra discriminator arguments.")
_ = flags.DEFINE_string("init_from", None, "Start from this trained SPN (a preset name, .keras file or model dir): how SPGAN starts.")
_ = flags.DEFINE_string("data_dir", None, "Dataset root, or builtin:sample (the default) / builtin:stills (the "
                        "presets' training set, made from permissively licensed photos).")
_ = flags.DEFINE_enum("data_format", None, ["dvd", "gopro", "frames", "pairs"], "Dataset layout; default: detected.")
_ = flags.DEFINE_integer("batch_size", 4, "Global batch size (paper: 4).")
_ = flags.DEFINE_integer("crop", 128, "Training crop side in pixels (paper: 128).")
_ = flags.DEFINE_boolean("cache", False, "Keep decoded training windows in memory (small datasets); the batch "
                         "order then comes from tf.data's shuffle, so a resumed run is not batch-exact.")
_ = flags.DEFINE_integer("val_windows", 64, "Validation windows (spread over the test clips).")
_ = flags.DEFINE_integer("val_crop", 256, "Validation centre crop side.")
_ = flags.DEFINE_integer("steps", None, f"Training steps in total (default {DEFAULT_STEPS} if --epochs is not given).")
_ = flags.DEFINE_integer("epochs", None, "Passes over the training windows (with --steps: whichever ends first).")
_ = flags.DEFINE_integer("eval_every", 100, "Steps between validations, schedule decisions and epoch summaries.")
_ = flags.DEFINE_float("lr", None, "Learning rate; default 1e-4 for spn, 1e-5 for spgan (paper).")
_ = flags.DEFINE_float("adv_weight", 1e-5, "Adversarial loss weight lambda (spgan only; paper 1e-5).")
_ = flags.DEFINE_enum("adversarial_loss", "minimax", ["minimax", "non_saturating"], "Generator adversarial loss.")
_ = flags.DEFINE_integer("plateau_patience", 5, "Validations without a lower training loss before lr / 10 (spn; 0 = off).")
_ = flags.DEFINE_integer("early_stopping_patience", 2,
                         "spgan: validations without a better PSNR before stopping (best weights kept; 0 = off).")
_ = flags.DEFINE_boolean("mixed_precision", False, "mixed_bfloat16 on CPUs, mixed_float16 on GPUs.")
_ = flags.DEFINE_integer("seed", 0, "Seed of the data pipeline and weight initialisation.")
_ = flags.DEFINE_string("model_dir", None, "Checkpoints, logs and the final model; default runs/<model>.")
_ = flags.DEFINE_integer("checkpoint_every", 100, "Steps between checkpoints (also at each validation and at exit).")
_ = flags.DEFINE_integer("keep_checkpoints", 3, "Checkpoints kept.")


def config_from_flags():
    if FLAGS["init_from"].present and not FLAGS["scales"].present:
        scales = None  # taken from the --init_from model below
    else:
        scales = parse_scales(FLAGS.scales)
    config = TrainConfig(
        model=FLAGS.model,
        scales=scales or (1, 3, 5),
        spn_config=parse_json_object(FLAGS.spn_config, "spn_config"),
        discriminator_config=parse_json_object(FLAGS.discriminator_config, "discriminator_config"),
        init_from=FLAGS.init_from,
        data_dir=FLAGS.data_dir,
        data_format=FLAGS.data_format,
        batch_size=FLAGS.batch_size,
        crop=FLAGS.crop,
        cache=FLAGS.cache,
        val_windows=FLAGS.val_windows,
        val_crop=FLAGS.val_crop,
        steps=FLAGS.steps if FLAGS.steps is not None or FLAGS.epochs is not None else DEFAULT_STEPS,
        epochs=FLAGS.epochs,
        eval_every=FLAGS.eval_every,
        lr=FLAGS.lr,
        adv_weight=FLAGS.adv_weight,
        adversarial_loss=FLAGS.adversarial_loss,
        plateau_patience=FLAGS.plateau_patience,
        early_stopping_patience=FLAGS.early_stopping_patience,
        mixed_precision=FLAGS.mixed_precision,
        seed=FLAGS.seed,
        model_dir=FLAGS.model_dir,
        checkpoint_every=FLAGS.checkpoint_every,
        keep_checkpoints=FLAGS.keep_checkpoints,
        strategy=FLAGS.strategy,
        cpu_replicas=FLAGS.cpu_replicas,
    )
    if scales is None:
        config.scales = _scales_of(config.init_from)
    return config.validate()


def _scales_of(path):
    from keras_spgan.models import ModelLoadError, load_generator

    try:
        return tuple(load_generator(path).scales)
    except ModelLoadError as error:
        raise ConfigError("init_from", str(error)) from None


def config_and_strategy():
    """The checked TrainConfig and its strategy, CPU replicas split before
    anything (loading an --init_from model included) initialises TF's devices."""
    from training import strategy as strategies

    if FLAGS.cpu_replicas and FLAGS.strategy == "mirrored":
        strategies.split_cpu(FLAGS.cpu_replicas)
    config = config_from_flags()
    return config, strategies.make_strategy(config.strategy, config.cpu_replicas)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments {argv[1:]}: every option is a --flag", exitcode=2)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    tf.get_logger().setLevel("WARNING")  # tf.distribute logs every all-reduce at INFO

    from training import loop

    try:
        config, strategy = config_and_strategy()
        keras.utils.set_random_seed(config.seed)
        result = loop.train(config, strategy)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OutputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if result.interrupted:
        return 143  # the conventional "terminated" status; the checkpoint is saved
    return 0


if __name__ == "__main__":
    absl_cli.run(main)
