"""tf.distribute strategies by name, and CPU replicas for machines without GPUs.

Create ONE strategy per process: a second MirroredStrategy reuses the first
one's collective keys and fails with "Shape mismatch in the collective
instance" once the models differ (tensorflow/tensorflow#62790). That is why
`training.ablation` trains all its variants under one strategy.
"""

import json
import os

import tensorflow as tf

from training.config import ConfigError


def split_cpu(replicas):
    """Splits the CPU into `replicas` logical devices; call before TF uses any device."""
    if replicas < 2:
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * replicas)
    except RuntimeError:
        existing = len(tf.config.list_logical_devices("CPU"))
        if existing != replicas:
            raise ConfigError(
                "cpu_replicas", f"TensorFlow already initialised its devices with {existing} CPU device(s)"
            ) from None


def worker_info():
    """(is_chief, task description) from TF_CONFIG; chief when there is no cluster."""
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task = config.get("task", {})
    cluster = config.get("cluster", {})
    kind, index = task.get("type", "worker"), int(task.get("index", 0))
    is_chief = kind == "chief" or (kind == "worker" and index == 0 and "chief" not in cluster)
    return is_chief, f"{kind}:{index}"


def make_strategy(name, cpu_replicas=0):
    """The strategy called `name` (see training.config.STRATEGIES)."""
    gpus = tf.config.list_physical_devices("GPU")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy("/gpu:0" if gpus else "/cpu:0")
    if name == "mirrored":
        if gpus and cpu_replicas:
            raise ConfigError("cpu_replicas", f"this machine has {len(gpus)} GPU(s); mirrored uses them")
        if gpus:
            return tf.distribute.MirroredStrategy()
        split_cpu(cpu_replicas)
        devices = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices[: max(1, cpu_replicas)])
    if name == "multi_worker":
        config = json.loads(os.environ.get("TF_CONFIG") or "{}")
        if not config.get("cluster"):
            raise ConfigError(
                "strategy",
                "multi_worker needs TF_CONFIG with the cluster and this task, e.g. "
                '{"cluster": {"worker": ["host1:port", "host2:port"]}, "task": {"type": "worker", "index": 0}}',
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ConfigError("strategy", f"unknown strategy {name!r}")
