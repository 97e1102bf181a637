"""TF Serving's gRPC API (PredictionService.Predict / GetModelMetadata, ModelService.GetModelStatus)
over the same repository as the REST server, with tensorflow-serving-api's protos."""

from concurrent import futures

from serving import predict
from serving.repository import ServingError


def _abort(context, error):
    import grpc

    context.abort(getattr(grpc.StatusCode, error.code), error.message)


def _spec(model_spec):
    """(name, version, label) of a ModelSpec."""
    choice = model_spec.WhichOneof("version_choice")
    version = model_spec.version.value if choice == "version" else None
    label = model_spec.version_label if choice == "version_label" else None
    return model_spec.name, version, label


MAX_MESSAGE_BYTES = 256 * 1024 * 1024


def start_grpc_server(repository, port, host="127.0.0.1", workers=2, max_bytes=MAX_MESSAGE_BYTES,
                      max_concurrent_rpcs=8):
    """A started gRPC server; `max_bytes` bounds a message and the size a request's tensors declare;
    `workers` calls run at once and at most `max_concurrent_rpcs` are held (gRPC refuses more with
    RESOURCE_EXHAUSTED at once)."""
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import (
        get_model_metadata_pb2,
        get_model_status_pb2,
        model_service_pb2_grpc,
        predict_pb2,
        prediction_service_pb2_grpc,
    )

    class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
        def Predict(self, request, context):  # noqa: N802 - gRPC method names
            try:
                name, version, label = _spec(request.model_spec)
                version, loaded = repository.resolve(name, version, label)
                signature = request.model_spec.signature_name or "serving_default"
                if signature not in loaded.signature_defs:
                    raise ServingError("INVALID_ARGUMENT", f'Serving signature name: "{signature}" not found')
                inputs = loaded.signature_defs[signature].inputs
                if set(request.inputs) != set(inputs):
                    raise ServingError("INVALID_ARGUMENT",
                                       f"expected inputs {sorted(inputs)}, got {sorted(request.inputs)}")
                for key, proto in request.inputs.items():
                    predict.check_tensor_proto(key, proto, inputs[key], max_bytes)
                tensors = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
                outputs = predict.run(loaded, signature, tensors)
            except ServingError as error:
                return _abort(context, error)
            response = predict_pb2.PredictResponse()
            response.model_spec.name = name
            response.model_spec.version.value = version
            response.model_spec.signature_name = signature
            for key, value in outputs.items():
                response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
            return response

        def GetModelMetadata(self, request, context):  # noqa: N802
            try:
                name, version, label = _spec(request.model_spec)
                version, loaded = repository.resolve(name, version, label)
            except ServingError as error:
                return _abort(context, error)
            signatures = get_model_metadata_pb2.SignatureDefMap()
            for key, value in loaded.signature_defs.items():
                signatures.signature_def[key].CopyFrom(value)
            response = get_model_metadata_pb2.GetModelMetadataResponse()
            response.model_spec.name = name
            response.model_spec.version.value = version
            response.metadata["signature_def"].Pack(signatures)
            return response

    class ModelService(model_service_pb2_grpc.ModelServiceServicer):
        def GetModelStatus(self, request, context):  # noqa: N802
            try:
                status = repository.status(*_spec(request.model_spec))
            except ServingError as error:
                return _abort(context, error)
            response = get_model_status_pb2.GetModelStatusResponse()
            for entry in status["model_version_status"]:
                item = response.model_version_status.add()
                item.version = int(entry["version"])
                item.state = get_model_status_pb2.ModelVersionStatus.AVAILABLE
            return response

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers),
                         maximum_concurrent_rpcs=max_concurrent_rpcs,
                         options=[("grpc.max_receive_message_length", max_bytes),
                                  ("grpc.max_send_message_length", max_bytes)])
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(PredictionService(), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(), server)
    if server.add_insecure_port(f"{host}:{port}") == 0:
        raise OSError(f"cannot listen on {host}:{port}")
    server.start()
    return server
