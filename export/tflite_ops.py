"""Reading the ops of a .tflite model: which run in float, where the head starts.

Shared by export.tflite (checks of a converted model) and export.quantization (the int8
converter's float head), which therefore need not import each other.
"""

import numpy as np

HEAD_LAYER = "head_conv"  # the float head starts at this layer's op
COMPUTE_OPS = ("CONV_2D", "CONV_3D", "TRANSPOSE_CONV", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "BATCH_MATMUL")
FLOAT_TYPES = (np.float32, np.float16)


def op_details(content):
    """[(op name, dtypes of its float inputs, first output tensor name)] of a .tflite model,
    in execution order, as the flatbuffer holds it (read without delegates, which would
    hide ops inside DELEGATE nodes)."""
    from keras_spgan.inference.runners import tflite_interpreter

    interpreter = tflite_interpreter(content=content, delegates=False)
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    ops = []
    for op in interpreter._get_ops_details():  # no public API lists a model's ops
        dtypes = {np.dtype(tensors[i]["dtype"]) for i in op["inputs"] if i >= 0}
        floats = sorted(d.name for d in dtypes if d in FLOAT_TYPES)
        ops.append((op["op_name"], floats, tensors[op["outputs"][0]]["name"]))
    return ops


def list_ops(content):
    """[(op name, dtypes of its float inputs)] of a .tflite model."""
    return [(name, floats) for name, floats, _ in op_details(content)]


def float_compute_ops(content, float_head=False):
    """Convolutions / matmuls that take a float input: none may be left in an int8 model
    but, with `float_head`, those from the head conv on (the head and the colour
    conversion back to RGB)."""
    ops = op_details(content)
    tail = head_start([output for _, _, output in ops]) if float_head else None
    return sorted({
        f"{name}({','.join(floats)})" for i, (name, floats, _) in enumerate(ops)
        if name in COMPUTE_OPS and floats and (tail is None or i < tail)
    })


def head_start(output_names):
    """Index of the first op whose output comes from the head conv (None if there is none):
    ops from there on stay float in the default int8 model."""
    return next((i for i, name in enumerate(output_names) if f"/{HEAD_LAYER}" in name), None)


def head_nodes(float_content):
    """Output tensor names of the ops from the head conv on, in a float .tflite model."""
    names = [output for _, _, output in op_details(float_content)]
    first = head_start(names)
    if first is None:
        raise ValueError(f"no {HEAD_LAYER} op in the model")
    return names[first:]
