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

from keras_spgan import cli
from keras_spgan.errors import TERMINATED
from keras_spgan.flags import add_dataclass_flags
from training.config import DEFAULT_STEPS, PAPER_SCALES, ConfigError, TrainConfig


def add_arguments(parser):
    add_dataclass_flags(parser, TrainConfig)


def config_from_args(args):
    """The checked TrainConfig of parsed flags."""
    values = {field: getattr(args, field) for field in TrainConfig.__dataclass_fields__}
    if args.steps is None and args.epochs is None:
        values["steps"] = DEFAULT_STEPS
    if args.scales is None:  # not given: the --init_from model's, else the paper's
        values["scales"] = _scales_of(args.init_from) if args.init_from else PAPER_SCALES
    return TrainConfig(**values).validate()


def _scales_of(path):
    from keras_spgan.models import ModelLoadError, load_generator

    try:
        return tuple(load_generator(path).scales)
    except ModelLoadError as error:
        raise ConfigError("init_from", str(error)) from None


def config_and_strategy(args):
    """The checked TrainConfig and its strategy, CPU replicas split before
    anything (loading an --init_from model included) initialises TF's devices."""
    from training import strategy as strategies

    if args.cpu_replicas and args.strategy == "mirrored":
        strategies.split_cpu(args.cpu_replicas)
    config = config_from_args(args)
    return config, strategies.make_strategy(config.strategy, config.cpu_replicas)


def run(args):
    import keras
    import tensorflow as tf

    tf.get_logger().setLevel("WARNING")  # tf.distribute logs every all-reduce at INFO
    from training import loop

    config, strategy = config_and_strategy(args)
    keras.utils.set_random_seed(config.seed)
    result = loop.train(config, strategy)
    return TERMINATED if result.interrupted else 0  # 143: terminated, the checkpoint is saved


if __name__ == "__main__":
    cli.alias("fit")
