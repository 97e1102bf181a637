"""serving/json_tensor.py: TF Serving's JSON bodies parsed and written with NumPy, giving what
json + np.array give, at a fraction of their memory."""

import json
import tracemalloc

import numpy as np
import pytest

from serving import json_tensor


def plain(value):
    """A parsed body with its NumericArray objects turned into lists, to compare with json.loads."""
    if isinstance(value, json_tensor.NumericArray):
        return value.to_numpy().tolist()
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


@pytest.mark.parametrize("text", [
    '{"instances": [[1,2],[3,4]]}',
    '{"inputs": {"a": [1.5, 2e3, -0, -7E-2], "b": [[[1]]]}, "signature_name": "x[1,2]"}',
    '[{"x": [1,2,3]}, {"x": [4,5,6]}]',
    '{"a": "quo\\"te [1,2] \\\\", "b": [ 1 , 2 ]}',
    '{"a": [true, false], "b": [null], "c": [1.5, NaN]}',
    '{"a": [[], []], "b": []}',
    '{"a": [[1, 2], {"b": 3}, [4]]}',
    '{"a": [[[1,2,3]],[[4,5,6]]], "b": [7], "c": 8}',
    '[[1]]',
    '\n{ "instances" :\n [ [ 1 ,\t2 ] ]\n }\n',
])
def test_parses_as_json_does(text):
    assert plain(json_tensor.loads(text.encode())) == json.loads(text)


def test_numbers_keep_numpys_types_and_values():
    rng = np.random.default_rng(0)
    ints = rng.integers(-2**40, 2**40, (2, 3, 4, 5))
    floats = rng.normal(size=(3, 7)) * 10.0 ** rng.integers(-30, 30, (3, 7))
    body = json.dumps({"i": ints.tolist(), "f": floats.tolist()}).encode()
    parsed = json_tensor.loads(body)
    got_ints, got_floats = parsed["i"].to_numpy(), parsed["f"].to_numpy()
    assert got_ints.dtype == np.int64 and got_floats.dtype == np.float64
    np.testing.assert_array_equal(got_ints, ints)
    np.testing.assert_array_equal(got_floats, floats)  # bit-exact: the same decimal text, read back
    np.testing.assert_array_equal(json_tensor.to_numpy([parsed["i"], parsed["i"]]), np.stack([ints, ints]))


@pytest.mark.parametrize("text", [
    '{"a": [[1,2,3],[4]]}', '{"a": [[1,2],[3],[4,5,6]]}', '{"a": [[1],[2,3]]}', '{"a": [[[1],[2]],[[3]]]}',
    '{"a": [1,,2]}', '{"a": [1 2]}', '{"a": [[1],2]}', '{"a": [1, [2]]}', '{"a": [[1],,[2]]}',
    '{"a": [[1 2,3],[4,]]}', '{"a": [[1], []]}', '{"a": [1-2]}', '{"a": [1.2.3]}', '{"a": [1,2]]', '{"a": [[1,2]}',
])
def test_ragged_or_malformed_arrays_are_errors(text):
    with pytest.raises(json_tensor.JsonError):
        json_tensor.loads(text.encode())["a"].to_numpy()


def test_json_outside_numeric_arrays_is_bounded():
    with pytest.raises(json_tensor.JsonError, match="outside numeric arrays"):
        json_tensor.loads(json.dumps({"instances": ["x"] * (json_tensor.MAX_STRUCTURE_BYTES // 4)}).encode())


def test_a_large_uint8_body_costs_a_few_times_its_size_not_json_loads_much_more():
    frames = np.random.default_rng(0).integers(0, 256, (1, 5, 160, 160, 3), dtype=np.uint8)
    body = json.dumps({"instances": frames.tolist()}).encode()

    def peak(parse):
        tracemalloc.start()
        try:
            result = parse(body)
            return tracemalloc.get_traced_memory()[1], result
        finally:
            tracemalloc.stop()

    ours, array = peak(lambda b: json_tensor.loads(b)["instances"].to_numpy())
    theirs, expected = peak(lambda b: np.array(json.loads(b)["instances"]))
    np.testing.assert_array_equal(array, frames)
    np.testing.assert_array_equal(expected, frames)
    assert ours < 3 * len(body), (ours, len(body))
    assert theirs > 2 * ours, (theirs, ours)


def test_dumps_writes_what_json_writes():
    rng = np.random.default_rng(1)
    value = {"predictions": rng.integers(0, 256, (2, 3, 4, 3), dtype=np.uint8),
             "other": [rng.random((2, 2)).astype(np.float32), {"k": 1.5}], "s": "x"}
    expected = json.dumps({"predictions": value["predictions"].tolist(),
                           "other": [value["other"][0].tolist(), {"k": 1.5}], "s": "x"})
    assert json.loads(json_tensor.dumps(value)) == json.loads(expected)
    assert json_tensor.dumps(value["predictions"]) == json.dumps(value["predictions"].tolist(),
                                                                  separators=(",", ":")).encode()
