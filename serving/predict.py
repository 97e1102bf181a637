"""TF Serving's JSON predict format: request bodies to tensors, tensors to response bodies.

Row format:      {"signature_name": ..., "instances": [row, row, ...]}  -> {"predictions": [...]}
Columnar format: {"signature_name": ..., "inputs": value | {name: value}} -> {"outputs": ...}
With one input, a row (or `inputs`) is the value itself; with several, an
object keyed by input name. With one output, a prediction is the value
itself; with several, an object keyed by output name.
"""

import numpy as np

from serving import json_tensor
from serving.repository import DEFAULT_SIGNATURE, ServingError

# SignatureDef dtype enum names -> NumPy dtypes, for the dtypes a predict request can carry as JSON numbers.
DTYPES = {"DT_FLOAT": np.float32, "DT_DOUBLE": np.float64, "DT_INT32": np.int32, "DT_INT64": np.int64,
          "DT_UINT8": np.uint8, "DT_INT8": np.int8, "DT_INT16": np.int16, "DT_UINT16": np.uint16,
          "DT_HALF": np.float16, "DT_BOOL": np.bool_}


def _invalid(message):
    return ServingError("INVALID_ARGUMENT", message)


def parse_body(body):
    """The request object; malformed JSON or a non-object is INVALID_ARGUMENT."""
    if not body:
        raise _invalid("JSON Parse error: The document is empty.")
    try:
        request = json_tensor.loads(body)
    except json_tensor.JsonError as error:
        raise _invalid(str(error)) from None
    if not isinstance(request, dict):
        raise _invalid("JSON Value: " + body[:80].decode("utf-8", "replace") + " Is not an object")
    has_instances, has_inputs = "instances" in request, "inputs" in request
    if has_instances == has_inputs:
        raise _invalid("Missing 'inputs' or 'instances' key" if not has_instances else
                       "Not formatted correctly expecting only one of 'inputs' or 'instances' keys exists")
    return request


def _tensor(name, value, info):
    """`value` (nested lists) as an array of the signature's dtype and rank; errors name the input."""
    from tensorflow.core.framework import types_pb2

    dtype_name = types_pb2.DataType.Name(info.dtype)
    if dtype_name not in DTYPES:
        raise _invalid(f"input '{name}': dtype {dtype_name} cannot be sent as JSON numbers")
    try:
        array = json_tensor.to_numpy(value)
    except json_tensor.JsonError as error:
        raise _invalid(f"input '{name}': {error}") from None
    except ValueError:
        raise _invalid(f"input '{name}': ragged list (rows of different lengths)") from None
    if array.dtype == object or array.dtype.kind not in "biuf":
        got = "strings" if array.dtype.kind in "US" else array.dtype
        raise _invalid(f"input '{name}': expected numbers of type {dtype_name}, got {got}")
    dtype = DTYPES[dtype_name]
    if np.issubdtype(dtype, np.integer):
        if array.dtype.kind == "f" and not np.all(np.equal(np.mod(array, 1), 0)):
            raise _invalid(f"input '{name}': expected integers ({dtype_name}), got fractional numbers")
        limits = np.iinfo(dtype)
        if array.size and (array.min() < limits.min or array.max() > limits.max):
            raise _invalid(f"input '{name}': values outside the range of {dtype_name}")
    array = array.astype(dtype)
    shape = info.tensor_shape
    if not shape.unknown_rank:
        dims = [d.size for d in shape.dim]
        if array.ndim != len(dims):
            raise _invalid(f"input '{name}': expected rank {len(dims)} (shape {dims}), got shape {list(array.shape)}")
        for axis, (want, have) in enumerate(zip(dims, array.shape)):
            if want >= 0 and want != have:
                raise _invalid(f"input '{name}': dimension {axis} must be {want}, got shape {list(array.shape)}")
    return array


def request_tensors(request, signature_defs):
    """(signature name, {input name: array}, row format?) for a parsed request."""
    name = request.get("signature_name") or DEFAULT_SIGNATURE
    if not isinstance(name, str) or name not in signature_defs:
        raise _invalid(f'Serving signature name: "{name}" not found in signature def')
    inputs = signature_defs[name].inputs
    if "instances" in request:
        rows = request["instances"]
        if isinstance(rows, json_tensor.NumericArray):  # rows of numbers: one tensor already
            if len(inputs) != 1:
                raise _invalid(f"every instance must be an object with the keys {sorted(inputs)}")
            (key,) = inputs
            return name, {key: _tensor(key, rows, inputs[key])}, True
        if not isinstance(rows, list) or not rows:
            raise _invalid("'instances' must be a non-empty list")
        if len(inputs) == 1:
            (key,) = inputs
            rows = [row[key] if isinstance(row, dict) and set(row) == {key} else row for row in rows]
            return name, {key: _tensor(key, rows, inputs[key])}, True
        if not all(isinstance(row, dict) and set(row) == set(inputs) for row in rows):
            raise _invalid(f"every instance must be an object with the keys {sorted(inputs)}")
        return name, {k: _tensor(k, [row[k] for row in rows], inputs[k]) for k in inputs}, True
    values = request["inputs"]
    if len(inputs) == 1 and not (isinstance(values, dict) and set(values) == set(inputs)):
        (key,) = inputs
        return name, {key: _tensor(key, values, inputs[key])}, False
    if not isinstance(values, dict) or set(values) != set(inputs):
        raise _invalid(f"'inputs' must be an object with the keys {sorted(inputs)}")
    return name, {k: _tensor(k, values[k], inputs[k]) for k in inputs}, False


# TensorProto's typed value fields, by dtype (what tf.make_ndarray reads when tensor_content is empty).
_VALUE_FIELDS = {"DT_FLOAT": "float_val", "DT_DOUBLE": "double_val", "DT_INT32": "int_val", "DT_INT64": "int64_val",
                 "DT_UINT8": "int_val", "DT_INT8": "int_val", "DT_INT16": "int_val", "DT_UINT16": "int_val",
                 "DT_HALF": "half_val", "DT_BOOL": "bool_val"}


def check_tensor_proto(name, proto, info, max_bytes):
    """Refuses a gRPC TensorProto before any array exists: a dtype or shape the signature does
    not accept, a declared size over `max_bytes`, or values that do not fill the shape.
    (tf.make_ndarray fills a declared shape from a single value: a 40-byte request could
    otherwise allocate gigabytes.)"""
    from tensorflow.core.framework import types_pb2

    want = types_pb2.DataType.Name(info.dtype)
    got = types_pb2.DataType.Name(proto.dtype) if proto.dtype in types_pb2.DataType.values() else str(proto.dtype)
    if got != want:
        raise _invalid(f"input '{name}': expects {want}, got {got}")
    dims = [d.size for d in proto.tensor_shape.dim]
    if any(d < 0 for d in dims):
        raise _invalid(f"input '{name}': negative dimension in shape {dims}")
    shape = info.tensor_shape
    if not shape.unknown_rank:
        wanted = [d.size for d in shape.dim]
        if len(dims) != len(wanted) or any(w >= 0 and w != d for w, d in zip(wanted, dims)):
            raise _invalid(f"input '{name}': shape {dims} does not match the signature's {wanted}")
    count = 1
    for d in dims:
        count *= d
    itemsize = np.dtype(DTYPES[want]).itemsize if want in DTYPES else 8
    if count * itemsize > max_bytes:
        raise ServingError("RESOURCE_EXHAUSTED", f"input '{name}': shape {dims} declares {count * itemsize} bytes, "
                                                 f"over the limit of {max_bytes}")
    if proto.tensor_content:
        if len(proto.tensor_content) != count * itemsize:
            raise _invalid(f"input '{name}': tensor_content holds {len(proto.tensor_content)} bytes, "
                           f"shape {dims} needs {count * itemsize}")
    else:
        values = len(getattr(proto, _VALUE_FIELDS.get(want, "float_val")))
        if values != count:
            raise _invalid(f"input '{name}': {values} values for shape {dims} ({count} elements)")


def run(loaded, signature, tensors):
    """{output name: array} from one signature; TensorFlow's own argument errors are INVALID_ARGUMENT."""
    import tensorflow as tf

    function = loaded.loaded.signatures[signature]
    try:
        outputs = function(**{k: tf.constant(v) for k, v in tensors.items()})
    except (tf.errors.InvalidArgumentError, ValueError, TypeError) as error:
        raise _invalid(str(error).strip().splitlines()[0]) from None
    except tf.errors.OpError as error:
        raise ServingError("INTERNAL", str(error).strip().splitlines()[0]) from None
    return {k: v.numpy() for k, v in outputs.items()}


def response_body(outputs, row_format):
    """The response as JSON bytes, written from the arrays without a Python object per number."""
    if row_format:
        if len(outputs) == 1:
            return json_tensor.dumps({"predictions": next(iter(outputs.values()))})
        count = len(next(iter(outputs.values())))
        return json_tensor.dumps({"predictions": [{k: v[i] for k, v in outputs.items()} for i in range(count)]})
    if len(outputs) == 1:
        return json_tensor.dumps({"outputs": next(iter(outputs.values()))})
    return json_tensor.dumps({"outputs": outputs})
