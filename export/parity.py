"""Parity of an exported model with the Keras model it came from.

For each export: the largest absolute difference and the PSNR against the
Keras model's output, and the PSNR against the sharp target next to the Keras
model's own. PSNR is on BT.601 Y (as the paper reports), per frame, averaged;
identical outputs are capped at 120 dB. An export that misses its precision's
threshold fails (see THRESHOLDS, from the export issue).
"""

import numpy as np

from keras_spgan.errors import KerasSpganError

THRESHOLDS = {
    "float32": {"max_abs_diff": 1e-4},
    "float16": {"min_psnr_vs_keras": 45.0},
    "dynamic": {"min_psnr_vs_keras": 45.0},
    "int8": {"min_psnr_vs_keras": 38.0, "max_target_drop_db": 0.3},
    "uint8": {"max_abs_diff": 1.0 / 255.0 + 1e-6},  # one 8-bit level: rounding at .5 may differ
}
MAX_PSNR = 120.0


class ParityError(KerasSpganError, RuntimeError):
    """An export that does not match its Keras model within its threshold."""

    exit_code = 1  # it ran and failed (keras_spgan.errors)


def _luma(image):
    image = np.asarray(image, np.float64)
    if image.shape[-1] == 1:  # already Y
        return image[..., 0]
    from keras_spgan.colour import RGB_TO_YCBCR, YCBCR_OFFSET  # deferred: keras_spgan.colour imports Keras

    return image @ RGB_TO_YCBCR[0] + YCBCR_OFFSET[0]


def psnr_y(reference, output):
    mse = float(np.mean((_luma(reference) - _luma(output)) ** 2))
    return min(MAX_PSNR, 10.0 * np.log10(1.0 / max(mse, 1e-30)))


def run_all(runner, windows):
    """Outputs of `runner` for each window (one at a time: fixed-size models take batch 1)."""
    return [np.asarray(runner(w[None])[0], np.float32) for w in windows]


def measure(name, precision, outputs, keras_outputs, targets):
    """One row of the parity report; `failures` lists the thresholds missed."""
    row = {
        "export": name,
        "precision": precision,
        "max_abs_diff": float(max(np.abs(o - k).max() for o, k in zip(outputs, keras_outputs))),
        "psnr_vs_keras_db": float(np.mean([psnr_y(k, o) for o, k in zip(outputs, keras_outputs)])),
        "psnr_vs_target_db": float(np.mean([psnr_y(t, o) for o, t in zip(outputs, targets)])),
        "keras_psnr_vs_target_db": float(np.mean([psnr_y(t, k) for k, t in zip(keras_outputs, targets)])),
        "windows": len(outputs),
    }
    row["thresholds"] = THRESHOLDS[precision]
    row["failures"] = _failures(row, THRESHOLDS[precision])
    return row


def _failures(row, limits):
    failures = []
    if "max_abs_diff" in limits and not row["max_abs_diff"] < limits["max_abs_diff"]:
        failures.append(f"max |export - keras| = {row['max_abs_diff']:.3g}, must be < {limits['max_abs_diff']:.3g}")
    if "min_psnr_vs_keras" in limits and not row["psnr_vs_keras_db"] >= limits["min_psnr_vs_keras"]:
        failures.append(
            f"PSNR vs keras = {row['psnr_vs_keras_db']:.2f} dB, must be >= {limits['min_psnr_vs_keras']} dB"
        )
    if "max_target_drop_db" in limits:
        drop = row["keras_psnr_vs_target_db"] - row["psnr_vs_target_db"]
        if not drop <= limits["max_target_drop_db"]:
            failures.append(
                f"PSNR vs target is {drop:.2f} dB below float32's, must be at most {limits['max_target_drop_db']} dB"
            )
    return failures


def format_table(rows):
    header = (f"{'export':<28} {'precision':<9} {'max|diff|':>10} {'vs keras dB':>12} {'vs target dB':>13} "
              f"{'keras dB':>9}  result")
    lines = [header, "-" * len(header)]
    for row in rows:
        result = "ok" if not row["failures"] else "FAIL: " + "; ".join(row["failures"])
        lines.append(
            f"{row['export']:<28} {row['precision']:<9} {row['max_abs_diff']:>10.2e} {row['psnr_vs_keras_db']:>12.2f} "
            f"{row['psnr_vs_target_db']:>13.2f} {row['keras_psnr_vs_target_db']:>9.2f}  {result}"
        )
    return "\n".join(lines)


def check(rows):
    """Raises ParityError listing every missed threshold."""
    failed = [f"{row['export']}: {f}" for row in rows for f in row["failures"]]
    if failed:
        raise ParityError("export does not match the Keras model:\n  " + "\n  ".join(failed))
