"""Models, versions and labels as TF Serving sees them, and its errors.

A model is a base folder of numeric version folders, each a SavedModel.
Which versions are served follows TF Serving's version policies (latest N,
all, specific), labels map to served versions, a request without version or
label goes to the newest served version. Errors carry TF Serving's
(gRPC-style) code, from which the REST status follows as in TF Serving's
`http_server.cc`.
"""

import dataclasses
import os
import threading

from keras_spgan.errors import KerasSpganError
from keras_spgan.inference.runners import saved_model_versions

HTTP_STATUS = {
    "OK": 200, "CANCELLED": 499, "UNKNOWN": 500, "INVALID_ARGUMENT": 400, "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404, "ALREADY_EXISTS": 409, "PERMISSION_DENIED": 403, "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 400, "ABORTED": 409, "OUT_OF_RANGE": 400, "UNIMPLEMENTED": 501, "INTERNAL": 500,
    "UNAVAILABLE": 503, "DATA_LOSS": 500, "UNAUTHENTICATED": 401,
}
DEFAULT_SIGNATURE = "serving_default"
INIT_OP_SIGNATURE = "__saved_model_init_op"


class ServingError(KerasSpganError):
    """An error as TF Serving reports it: a status code name and a message."""

    exit_code = 1  # it ran and failed (keras_spgan.errors)

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def http_status(self):
        return HTTP_STATUS[self.code]


@dataclasses.dataclass
class ModelConfig:
    name: str
    base_path: str
    policy: str = "latest"  # latest | all | specific
    num_versions: int = 1
    versions: tuple = ()
    labels: dict = dataclasses.field(default_factory=dict)


def read_model_config_file(path):
    """[ModelConfig] from a TF Serving models.config (text ModelServerConfig proto)."""
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    config = model_server_config_pb2.ModelServerConfig()
    with open(path) as f:
        text_format.Parse(f.read(), config)
    models = []
    for entry in config.model_config_list.config:
        policy = entry.model_version_policy
        kind = policy.WhichOneof("policy_choice") or "latest"
        models.append(ModelConfig(
            name=entry.name, base_path=entry.base_path, policy=kind,
            num_versions=policy.latest.num_versions or 1 if kind == "latest" else 1,
            versions=tuple(policy.specific.versions) if kind == "specific" else (),
            labels=dict(entry.version_labels),
        ))
    return models


class LoadedVersion:
    """One SavedModel version: its signatures (callable) and their SignatureDefs (metadata)."""

    def __init__(self, path):
        import tensorflow as tf
        from tensorflow.core.protobuf import saved_model_pb2

        self.path = path
        self.loaded = tf.saved_model.load(path)  # keep a reference: its functions use its variables
        proto = saved_model_pb2.SavedModel()
        with open(os.path.join(path, "saved_model.pb"), "rb") as f:
            proto.ParseFromString(f.read())
        meta = next(m for m in proto.meta_graphs if "serve" in m.meta_info_def.tags)
        self.signature_defs = {k: v for k, v in meta.signature_def.items() if k != INIT_OP_SIGNATURE}


class Repository:
    """The served models, loaded once at start-up."""

    def __init__(self, configs):
        self.configs = {c.name: c for c in configs}
        self.versions = {}  # name -> {version: LoadedVersion}
        self.lock = threading.Lock()
        for config in configs:
            self.versions[config.name] = self._load(config)

    @staticmethod
    def _load(config):
        if not os.path.isdir(config.base_path):
            raise FileNotFoundError(f"{config.base_path}: model base path of {config.name!r} does not exist")
        found = saved_model_versions(config.base_path)
        if config.policy == "latest":
            wanted = found[-config.num_versions:]
        elif config.policy == "all":
            wanted = found
        else:
            wanted = [v for v in found if v in config.versions]
        if not wanted:
            raise FileNotFoundError(f"{config.base_path}: no servable versions of {config.name!r} "
                                    f"(numeric folders holding saved_model.pb) for policy {config.policy}")
        loaded = {v: LoadedVersion(os.path.join(config.base_path, str(v))) for v in wanted}
        for label, version in config.labels.items():
            if version not in loaded:
                raise ValueError(f"label {label!r} of {config.name!r} points at version {version}, which is not served")
        return loaded

    def resolve(self, name, version=None, label=None):
        """(version number, LoadedVersion) for a request, or ServingError as TF Serving words it."""
        if name not in self.versions:
            raise ServingError("NOT_FOUND", f"Servable not found for request: Latest({name})")
        served = self.versions[name]
        if label is not None:
            labels = self.configs[name].labels
            if label not in labels:
                raise ServingError("INVALID_ARGUMENT", f"Unrecognized servable version label: {label}")
            version = labels[label]
        if version is None:
            version = max(served)
        elif version not in served:
            raise ServingError("NOT_FOUND", f"Servable not found for request: Specific({name}, {version})")
        return version, served[version]

    def status(self, name, version=None, label=None):
        """GetModelStatus as JSON: every served version, or the one asked for."""
        if version is None and label is None:
            if name not in self.versions:
                raise ServingError("NOT_FOUND", f"Could not find any versions of model {name}")
            versions = sorted(self.versions[name], reverse=True)
        else:
            versions = [self.resolve(name, version, label)[0]]
        return {"model_version_status": [
            {"version": str(v), "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
            for v in versions
        ]}

    def metadata(self, name, version=None, label=None):
        """GetModelMetadata (signature_def) as JSON, shaped as TF Serving's REST API returns it."""
        from google.protobuf import json_format
        from tensorflow_serving.apis import get_model_metadata_pb2

        version, loaded = self.resolve(name, version, label)
        signatures = get_model_metadata_pb2.SignatureDefMap()  # what TF Serving packs into its metadata
        for key, value in loaded.signature_defs.items():
            signatures.signature_def[key].CopyFrom(value)
        return {
            "model_spec": {"name": name, "signature_name": "", "version": str(version)},
            "metadata": {"signature_def": json_format.MessageToDict(
                signatures, always_print_fields_with_no_presence=True, preserving_proto_field_name=True)},
        }
