"""Typed configuration of a training run, checked before any work starts.

`TrainConfig` is what `training.fit` builds from its flags and what the task
(`training.task`) and the loop (`training.loop`) read. Every check raises
`ConfigError` naming the flag, so a bad command fails in a second, not after
the data was read and the model built.
"""

import dataclasses
import inspect
import json
import os
from typing import Optional

from keras_spgan.archs.discriminator import Discriminator
from keras_spgan.archs.spn import PAPER_SCALES, SPN, validate_scales
from keras_spgan.data.builtin import check as check_builtin, is_builtin
from keras_spgan.presets import is_preset
from keras_spgan.errors import ConfigError  # noqa: F401  (re-exported: training code raises it)

MODELS = ("spn", "spgan", "spgan_plain")
STRATEGIES = ("default", "one_device", "mirrored", "multi_worker")
ADVERSARIAL_LOSSES = ("minimax", "non_saturating")

# Paper section 4.2: Adam(0.5, 0.999), lr 1e-4 for SPN and 1e-5 for SPGAN.
DEFAULT_LR = {"spn": 1e-4, "spgan": 1e-5, "spgan_plain": 1e-5}
# A demo-sized run when neither --steps nor --epochs is given: about 10 minutes
# on a 2-core CPU with the full-size SPN on the built-in sample data. Measured:
# validation PSNR 25.44 dB at 300 steps (below the blurry input's 26.55),
# 27.62 / 27.53 / 27.04 / 26.92 dB at 700 / 800 / 900 / 1000.
DEFAULT_STEPS = 800


@dataclasses.dataclass
class TrainConfig:
    # What to train.
    model: str = "spn"
    scales: tuple = PAPER_SCALES
    spn_config: dict = dataclasses.field(default_factory=dict)
    discriminator_config: dict = dataclasses.field(default_factory=dict)
    init_from: Optional[str] = None
    # Data.
    data_dir: Optional[str] = None  # None: the built-in sample dataset
    data_format: Optional[str] = None  # None: detected
    batch_size: int = 4  # global, over all replicas and workers
    crop: int = 128
    cache: bool = False
    val_windows: int = 64
    val_crop: int = 256
    # How long.
    steps: Optional[int] = None
    epochs: Optional[int] = None
    eval_every: int = 100  # steps per validation + schedule decision (one Keras "epoch" in the logs)
    # Optimisation (paper defaults).
    lr: Optional[float] = None  # None: DEFAULT_LR[model]
    adv_weight: float = 1e-5
    adversarial_loss: str = "minimax"
    plateau_patience: int = 5  # epochs without a lower training loss before lr /= 10
    plateau_factor: float = 0.1
    min_lr: float = 1e-8
    early_stopping_patience: int = 2  # SPGAN: epochs of falling validation PSNR; 0 = never stop
    mixed_precision: bool = False
    seed: int = 0
    # Where and how.
    model_dir: Optional[str] = None  # None: runs/<model>
    checkpoint_every: int = 100
    keep_checkpoints: int = 3
    strategy: str = "mirrored"
    cpu_replicas: int = 0

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
        _choice("model", self.model, MODELS)
        _choice("strategy", self.strategy, STRATEGIES)
        _choice("adversarial_loss", self.adversarial_loss, ADVERSARIAL_LOSSES)
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
        return {
            "model": self.model,
            "scales": list(self.scales),
            "spn_config": self.spn_config,
            "discriminator_config": self.discriminator_config if self.is_gan else {},
        }


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


def parse_scales(text, flag="scales"):
    try:
        return tuple(int(v) for v in str(text).replace(" ", "").split(",") if v)
    except ValueError:
        raise ConfigError(flag, f"must be comma-separated odd integers like 1,3,5; got {text!r}") from None


def parse_json_object(text, flag):
    """A JSON object given inline or as the path of a .json file."""
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
