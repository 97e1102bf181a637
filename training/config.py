"""Typed configuration of a training run, checked before any work starts.

`TrainConfig` is the single source of `keras-spgan fit`'s flags (name, default, type and help
of each field; keras_spgan.flags turns them into flags) and what the task (`training.task`) and
the loop (`training.loop`) read. Every check raises `ConfigError` naming the flag, so a bad
command fails in a second, not after the data was read and the model built. Importing this
module does not import TensorFlow (so `--help` is instant); `validate` does.
"""

import dataclasses
import inspect
import json
import os
from typing import Optional

from keras_spgan.errors import ConfigError  # noqa: F401  (re-exported: training code raises it)

MODELS = ("spn", "spgan", "spgan_plain")
STRATEGIES = ("default", "one_device", "mirrored", "multi_worker")
ADVERSARIAL_LOSSES = ("minimax", "non_saturating")
CONTENT_LOSSES = ("mse", "psnr")
LR_SCHEDULES = ("plateau", "cosine")
DATA_FORMATS = ("dvd", "gopro", "frames", "pairs")
PAPER_SCALES = (1, 3, 5)

# Paper section 4.2: Adam(0.5, 0.999), lr 1e-4 for SPN and 1e-5 for SPGAN.
DEFAULT_LR = {"spn": 1e-4, "spgan": 1e-5, "spgan_plain": 1e-5}
# A demo-sized run when neither --steps nor --epochs is given: about 10 minutes
# on a 2-core CPU with the full-size SPN on the built-in sample data. Measured:
# validation PSNR 25.44 dB at 300 steps (below the blurry input's 26.55),
# 27.62 / 27.53 / 27.04 / 26.92 dB at 700 / 800 / 900 / 1000.
DEFAULT_STEPS = 800


def parse_scales(text, flag="scales"):
    try:
        return tuple(int(v) for v in str(text).replace(" ", "").split(",") if v)
    except ValueError:
        raise ConfigError(flag, f"must be comma-separated odd integers like 1,3,5; got {text!r}") from None


def parse_json_object(text, flag):
    """A JSON object given inline or as the path of a .json file."""
    if isinstance(text, dict):
        return text
    if not text:
        return {}
    source = text
    if os.path.isfile(text):
        with open(text) as f:
            source = f.read()
    try:
        value = json.loads(source)
    except json.JSONDecodeError as error:
        raise ConfigError(flag, f"not a JSON object nor a JSON file: {error}") from None
    if not isinstance(value, dict):
        raise ConfigError(flag, f"must be a JSON object, got {type(value).__name__}")
    return value


def _flag(default, help, **metadata):  # noqa: A002 - the flag's help text
    """A field with its flag's help (and `choices`, `parse`, `metavar`) in its metadata."""
    if isinstance(default, (dict, list)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata={"help": help, **metadata})
    return dataclasses.field(default=default, metadata={"help": help, **metadata})


@dataclasses.dataclass
class TrainConfig:
    # What to train.
    model: str = _flag("spn", "spn: the generator alone; spgan: adversarial training with the gradient-space "
                              "discriminator; spgan_plain: the same with a pixel-space discriminator.", choices=MODELS)
    scales: tuple = _flag(PAPER_SCALES, "Pyramid scales (paper Table 3 variants: 1 / 5 / 1,3 / 3,5 / 1,3,5 / 1,3,5,7); "
                                        "default 1,3,5, or the --init_from model's.", parse=parse_scales, metavar="S,S,S",
                          flag_default=None)
    spn_config: dict = _flag({}, 'JSON object (or .json file) of extra SPN arguments, e.g. \'{"num_res_blocks": 3}\'.',
                             parse=lambda text: parse_json_object(text, "spn_config"), metavar="JSON")
    discriminator_config: dict = _flag({}, "JSON object (or .json file) of extra discriminator arguments.",
                                       parse=lambda text: parse_json_object(text, "discriminator_config"),
                                       metavar="JSON")
    init_from: Optional[str] = _flag(None, "Start from this trained SPN (a preset name, .keras file or model dir): "
                                           "how SPGAN starts.", metavar="MODEL")
    # Data.
    data_dir: Optional[str] = _flag(None, "Dataset root, or builtin:sample (the default) / builtin:stills (the "
                                          "presets' training set, made from permissively licensed photos; "
                                          "builtin:stills-v2: its version before hand jitter).",
                                    metavar="DIR")
    data_format: Optional[str] = _flag(None, "Dataset layout; default: detected.", choices=DATA_FORMATS)
    batch_size: int = _flag(4, "Global batch size, over all replicas and workers (paper: 4).")
    crop: int = _flag(128, "Training crop side in pixels (paper: 128).")
    cache: bool = _flag(False, "Keep decoded training windows in memory (small datasets); the batch order then "
                               "comes from tf.data's shuffle, so a resumed run is not batch-exact.")
    val_windows: int = _flag(64, "Validation windows (spread over the test clips).")
    val_crop: int = _flag(256, "Validation centre crop side.")
    # How long.
    steps: Optional[int] = _flag(None, f"Training steps in total (default {DEFAULT_STEPS} if --epochs is not given).")
    epochs: Optional[int] = _flag(None, "Passes over the training windows (with --steps: whichever ends first).")
    eval_every: int = _flag(100, "Steps between validations, schedule decisions and epoch summaries.")
    # Optimisation (paper defaults).
    lr: Optional[float] = _flag(None, "Learning rate; default 1e-4 for spn, 1e-5 for spgan (paper).")
    content_loss: str = _flag("mse", "spn: mse (the paper's eq. 3) or psnr: the mean of minus each window's PSNR, "
                                     "so that mildly blurred windows count as much as strongly blurred ones, as in "
                                     "the mean PSNR over clips (keras_spgan.losses.psnr_loss).",
                              choices=CONTENT_LOSSES)
    warmup_steps: int = _flag(0, "Steps over which the learning rate rises linearly from 0 to --lr at the start "
                                 "(a warm start's fresh Adam moments otherwise take full-size steps at once; 0 = off).")
    freeze_bn: bool = _flag(False, "Keep the generator's BatchNormalization in inference mode (its statistics and "
                                   "scale fixed): fine-tuning a trained model at small batches, whose batch "
                                   "statistics are noisy.")
    flow_errors: float = _flag(0.0, "Networks fed aligned windows: the share of the training windows' neighbour "
                                    "frames whose optical flow gets a local error before the warp (blobs of a wrong "
                                    "2-24 px displacement, keras_spgan.align.flow_error_field), as the flow misses "
                                    "non-rigid and occluding motion in real footage; validation stays as aligned. "
                                    "0 = off.")
    ema: float = _flag(0.0, "Keep an exponential moving average of the generator's weights with this momentum "
                            "(e.g. 0.999, BasicSR's ema_decay; 0 = off). Validation, best.weights.h5 and the "
                            "final model use the average; checkpoints hold both, so resumes stay exact.")
    adv_weight: float = _flag(1e-5, "Adversarial loss weight lambda (spgan only; paper 1e-5).")
    adversarial_loss: str = _flag("minimax", "Generator adversarial loss.", choices=ADVERSARIAL_LOSSES)
    lr_schedule: str = _flag("plateau", "plateau: --lr until the training loss stops falling, then lr / 10 (spn; see "
                                        "--plateau_patience); cosine: from --lr (after --warmup_steps) down to "
                                        "--min_lr at --steps along a half cosine (BasicSR's CosineAnnealingLR; spn "
                                        "and spgan), which needs no validation to decide.",
                             choices=LR_SCHEDULES)
    plateau_patience: int = _flag(5, "Validations without a lower training loss before lr / 10 (spn, --lr_schedule "
                                     "plateau; 0 = off).")
    plateau_factor: float = _flag(0.1, "Learning-rate factor on a plateau.")
    min_lr: float = _flag(1e-8, "Lowest learning rate the plateau schedule goes to; where the cosine one ends.")
    early_stopping_patience: int = _flag(2, "spgan: validations without a better PSNR before stopping (best "
                                            "weights kept; 0 = off).")
    mixed_precision: bool = _flag(False, "mixed_bfloat16 on CPUs, mixed_float16 on GPUs.")
    seed: int = _flag(0, "Seed of the data pipeline and weight initialisation.")
    # Where and how.
    model_dir: Optional[str] = _flag(None, "Checkpoints, logs and the final model; default runs/<model>.",
                                     metavar="DIR")
    checkpoint_every: int = _flag(100, "Steps between checkpoints (also at each validation and at exit).")
    keep_checkpoints: int = _flag(3, "Checkpoints kept.")
    strategy: str = _flag("mirrored", "tf.distribute strategy. mirrored: all GPUs (or --cpu_replicas CPU devices); "
                                      "multi_worker: MultiWorkerMirroredStrategy from TF_CONFIG.", choices=STRATEGIES)
    cpu_replicas: int = _flag(0, "Without GPUs, split the CPU into this many replicas (mirrored only).")

    @property
    def num_frames(self):
        return max(self.scales)

    @property
    def learning_rate(self):
        return self.lr if self.lr is not None else DEFAULT_LR[self.model]

    @property
    def is_gan(self):
        return self.model != "spn"

    def resolved_model_dir(self):
        return self.model_dir or os.path.join("runs", self.model)

    def validate(self):
        """Raises ConfigError for the first bad flag; returns self."""
        # Deferred: these import TensorFlow, which --help and config building must not.
        from keras_spgan.archs.discriminator import Discriminator
        from keras_spgan.archs.spn import SPN, validate_scales
        from keras_spgan.data.builtin import check as check_builtin, is_builtin
        from keras_spgan.presets import is_preset

        _choice("model", self.model, MODELS)
        _choice("strategy", self.strategy, STRATEGIES)
        _choice("adversarial_loss", self.adversarial_loss, ADVERSARIAL_LOSSES)
        _choice("content_loss", self.content_loss, CONTENT_LOSSES)
        _choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        if self.is_gan and self.content_loss != "mse":
            # eq. 5's adv_weight (1e-5) is set against an MSE of ~1e-3; a loss in dB would swamp it.
            raise ConfigError("content_loss", f"psnr applies to --model spn only, not {self.model!r}")
        try:
            self.scales = validate_scales(self.scales)
        except ValueError as error:
            raise ConfigError("scales", str(error)) from None
        for flag in ("batch_size", "eval_every", "checkpoint_every", "keep_checkpoints", "val_windows"):
            _positive(flag, getattr(self, flag))
        for flag in ("steps", "epochs"):
            if getattr(self, flag) is not None:
                _positive(flag, getattr(self, flag))
        if self.crop < 4 or self.crop % 4:
            raise ConfigError("crop", f"must be a positive multiple of 4 (the SPN down-samples twice), got {self.crop}")
        if self.val_crop < 4:
            raise ConfigError("val_crop", f"must be at least 4, got {self.val_crop}")
        if self.lr is not None and not self.lr > 0:
            raise ConfigError("lr", f"must be > 0, got {self.lr}")
        if not self.min_lr >= 0:
            raise ConfigError("min_lr", f"must be >= 0, got {self.min_lr}")
        if self.lr_schedule == "cosine" and not self.min_lr < self.learning_rate:
            raise ConfigError("min_lr", f"the cosine schedule falls from --lr ({self.learning_rate:g}) to --min_lr: "
                                        f"it must be lower, got {self.min_lr:g}")
        if self.warmup_steps < 0:
            raise ConfigError("warmup_steps", f"must be >= 0, got {self.warmup_steps}")
        if self.freeze_bn and self.init_from is None:
            raise ConfigError("freeze_bn", "needs --init_from: a network trained from scratch needs its statistics")
        if not 0 <= self.flow_errors <= 1:
            raise ConfigError("flow_errors", f"must be in [0, 1] (0 = off), got {self.flow_errors}")
        if self.flow_errors and self.cache:
            raise ConfigError("flow_errors", "draws new errors for every window: it cannot be used with --cache")
        if not 0 <= self.ema < 1:
            raise ConfigError("ema", f"must be in [0, 1) (0 = off), got {self.ema}")
        if not self.adv_weight >= 0:
            raise ConfigError("adv_weight", f"must be >= 0, got {self.adv_weight}")
        if not 0 < self.plateau_factor < 1:
            raise ConfigError("plateau_factor", f"must be in (0, 1), got {self.plateau_factor}")
        if self.plateau_patience < 0 or self.early_stopping_patience < 0:
            raise ConfigError("plateau_patience", "patiences must be >= 0")
        if self.cpu_replicas < 0:
            raise ConfigError("cpu_replicas", f"must be >= 0, got {self.cpu_replicas}")
        if self.cpu_replicas and self.strategy != "mirrored":
            raise ConfigError("cpu_replicas", f"only applies to --strategy mirrored, not {self.strategy!r}")
        if not self.is_gan:
            for flag, default in (("adv_weight", 1e-5), ("adversarial_loss", "minimax")):
                if getattr(self, flag) != default:
                    raise ConfigError(flag, f"only applies to --model spgan / spgan_plain, not {self.model!r}")
            if self.discriminator_config:
                raise ConfigError("discriminator_config", "only applies to --model spgan / spgan_plain")
        _known_arguments("spn_config", self.spn_config, SPN, {"scales"})
        _known_arguments("discriminator_config", self.discriminator_config, Discriminator, {"space"})
        if self.init_from is not None and not os.path.exists(self.init_from) and not is_preset(self.init_from):
            raise ConfigError("init_from", f"{self.init_from}: no such file or directory, nor a preset name")
        if is_builtin(self.data_dir):
            try:
                check_builtin(self.data_dir)
            except ValueError as error:
                raise ConfigError("data_dir", str(error)) from None
        elif self.data_dir is not None and not os.path.isdir(self.data_dir):
            raise ConfigError("data_dir", f"{self.data_dir}: no such directory")
        if (self.data_dir is None or is_builtin(self.data_dir)) and self.data_format not in (None, "dvd"):
            raise ConfigError("data_format", "the built-in datasets are in DVD layout")
        return self

    def architecture(self):
        """What must not change between a run and its resumption."""
        architecture = {
            "model": self.model,
            "scales": list(self.scales),
            "spn_config": self.spn_config,
            "discriminator_config": self.discriminator_config if self.is_gan else {},
        }
        if self.ema:  # the averages are optimizer variables: a checkpoint has them or not
            architecture["ema"] = self.ema
        return architecture


def _known_arguments(flag, values, cls, set_elsewhere):
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self", "kwargs"} - set_elsewhere
    unknown = sorted(set(values) - accepted)
    if unknown:
        raise ConfigError(flag, f"unknown {cls.__name__} argument(s) {unknown}; accepted: {sorted(accepted)}")


def _choice(flag, value, choices):
    if value not in choices:
        raise ConfigError(flag, f"must be one of {', '.join(choices)}; got {value!r}")


def _positive(flag, value):
    if not isinstance(value, int) or value < 1:
        raise ConfigError(flag, f"must be a positive integer, got {value!r}")

