"""Configuration for TF Serving, and the command that starts it:

  python -m serving.prepare --model_base_path models/deblur --name deblur [--label stable=1 --label canary=2]

Writes, next to the model base folder (or --out):
  models.config      ModelServerConfig text proto: the model, its version policy and labels
  batching.config    BatchingParameters text proto (server-side batching of predict requests)
and prints the `docker run tensorflow/serving` commands (CPU and GPU) that serve them,
with the curl request for one window. models.config is built as a proto
and printed with protobuf's text format, so TF Serving parses it as written.
"""

import os
import sys

from keras_spgan import cli
from keras_spgan.errors import ConfigError
from keras_spgan.files import atomic_output
from keras_spgan.inference.runners import exported_alignment, saved_model_versions

POLICIES = ("latest", "all", "specific")


def model_server_config(name, base_path, policy="latest", num_latest=1, versions=(), labels=None):
    from tensorflow_serving.config import model_server_config_pb2

    config = model_server_config_pb2.ModelServerConfig()
    entry = config.model_config_list.config.add()
    entry.name = name
    entry.base_path = base_path
    entry.model_platform = "tensorflow"
    if policy == "latest":
        entry.model_version_policy.latest.num_versions = num_latest
    elif policy == "all":
        entry.model_version_policy.all.SetInParent()
    else:
        entry.model_version_policy.specific.versions.extend(versions)
    for label, version in (labels or {}).items():
        entry.version_labels[label] = version
    return config


def batching_parameters(max_batch_size=4, batch_timeout_micros=5000, num_batch_threads=None,
                        max_enqueued_batches=64):
    """BatchingParameters as text proto. (Its proto is not in tensorflow-serving-api's wheel, so
    this one is written by hand: a flat message of wrapped ints, as TF Serving documents it.)"""
    fields = {
        "max_batch_size": max_batch_size,
        "batch_timeout_micros": batch_timeout_micros,
        "num_batch_threads": num_batch_threads or os.cpu_count(),
        "max_enqueued_batches": max_enqueued_batches,
    }
    for name, value in fields.items():
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return "".join(f"{name} {{ value: {int(value)} }}\n" for name, value in fields.items())


def docker_commands(name, base_path, out_dir, rest_port=8501, grpc_port=8500):
    model_root = os.path.abspath(os.path.dirname(base_path.rstrip("/")))
    config_dir = os.path.abspath(out_dir)
    mounts = f"-v {model_root}:/models -v {config_dir}:/config"
    flags = ("--model_config_file=/config/models.config --enable_batching=true "
             "--batching_parameters_file=/config/batching.config")
    cpu = f"docker run --rm -p {rest_port}:8501 -p {grpc_port}:8500 {mounts} tensorflow/serving {flags}"
    gpu = (f"docker run --rm --gpus all -p {rest_port}:8501 -p {grpc_port}:8500 {mounts} "
           f"tensorflow/serving:latest-gpu {flags}")
    return cpu, gpu


def curl_example(name, rest_port=8501):
    return (f"curl -s http://localhost:{rest_port}/v1/models/{name}:predict -H 'Content-Type: application/json' "
            f"-d @window.json    # window.json: {{\"instances\": [<uint8 frames, shape (5, H, W, 3)>]}}")


def parse_labels(values):
    labels = {}
    for text in values or []:
        label, _, version = text.partition("=")
        if not label or not version.isdigit():
            raise ConfigError("label", f"expected NAME=VERSION, got {text!r}")
        labels[label] = int(version)
    return labels


def add_arguments(p):
    p.add_argument("--model_base_path", required=True, help="folder of numeric version folders (export.saved_model)")
    p.add_argument("--name", required=True, help="model name in request URLs")
    p.add_argument("--policy", choices=POLICIES, default="latest", help="which versions TF Serving loads")
    p.add_argument("--num_latest", type=int, default=1, help="latest: how many of the newest versions")
    p.add_argument("--versions", default="", help="specific: comma-separated version numbers")
    p.add_argument("--label", action="append", help="NAME=VERSION, repeatable (e.g. stable=1 canary=2)")
    p.add_argument("--max_batch_size", type=int, default=4)
    p.add_argument("--batch_timeout_micros", type=int, default=5000)
    p.add_argument("--out", default=None, help="folder for the two files (default: beside the base folder)")
    p.add_argument("--overwrite", action="store_true")


def run(args):
    from google.protobuf import text_format

    base = args.model_base_path.rstrip("/")
    if not os.path.isdir(base):
        raise ConfigError("model_base_path", f"{base}: no such folder")
    found = saved_model_versions(base)
    if not found:
        raise ConfigError("model_base_path", f"{base} has no version folders with a saved_model.pb "
                          "(python -m export.saved_model writes them)")
    versions = [int(v) for v in args.versions.split(",") if v.strip()]
    labels = parse_labels(args.label)
    missing = [v for v in list(labels.values()) + versions if v not in found]
    if missing:
        raise ConfigError("versions" if set(missing) & set(versions) else "label",
                          f"version(s) {missing} not found in {base} (has {found})")
    out = args.out or os.path.dirname(os.path.abspath(base))
    # Inside the container the models are mounted at /models, so the config names that path.
    config = model_server_config(args.name, f"/models/{os.path.basename(base)}", args.policy, args.num_latest,
                                 versions, labels)
    try:
        batching = batching_parameters(args.max_batch_size, args.batch_timeout_micros)
    except ValueError as error:
        raise ConfigError(str(error).split()[0], str(error)) from None
    files = {os.path.join(out, "models.config"): text_format.MessageToString(config),
             os.path.join(out, "batching.config"): batching}
    existing = [path for path in files if os.path.exists(path)]
    if existing and not args.overwrite:  # checked for both before either is written
        raise FileExistsError(f"{' and '.join(existing)}: already exists; pass --overwrite to replace it")
    for path, text in files.items():
        with atomic_output(path, overwrite=args.overwrite) as partial:
            with open(partial, "w") as f:
                f.write(text)
    cpu, gpu = docker_commands(args.name, base, out)
    # A network trained on flow-aligned windows needs its clients to align them (a server cannot).
    newest = os.path.join(base, str(found[-1]), "assets.extra", "keras_spgan.json")
    align = " --alignment flow" if exported_alignment(newest) == "flow" else ""
    print("wrote " + " and ".join(files))
    if align:
        print(f"\nnote: version {found[-1]} was trained on windows aligned by optical flow (its "
              "assets.extra/keras_spgan.json): clients align each window before sending it (below)")
    print(f"\nCPU:\n  {cpu}\nGPU:\n  {gpu}\n\nlocal, without Docker (development):\n"
          f"  python -m serving.server --model_base_path {base} --model_name {args.name} --rest_api_port 8501\n"
          f"\nthen:\n  {curl_example(args.name)}\n"
          f"  python -m serving.client deblur in.mp4 out.mp4 --server http://localhost:8501 --model {args.name}{align}")
    return 0


def main(argv=None):
    """`keras-spgan prepare ...` (argv without the command name)."""
    return cli.main(["prepare", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    cli.alias("prepare")
