"""Writing outputs so that a reader never sees half of one.

Everything is written under a temporary name beside its destination (same
file system, so the final rename is atomic) and renamed when complete; on any
error the temporary is removed and a previous output is left as it was. The
temporary name starts with a dot and is not a number, so TF Serving, which
watches a model's folder for numeric version folders, never picks it up.
"""

import contextlib
import errno
import json
import os
import shutil
import tempfile

from keras_spgan.errors import OutputError

# Errors of the storage itself, as opposed to a bug: reported as OutputError.
_STORAGE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EFBIG, errno.EACCES, errno.EPERM}


def _storage_failure(error):
    """The short reason when `error` is the disk failing (h5py and TF do not always set errno)."""
    if isinstance(error, OutputError):
        return None
    text = str(error)
    for reason in ("No space left on device", "Disk quota exceeded", "Read-only file system", "File too large"):
        if reason in text:  # also where h5py and TensorFlow bury it in a long message
            return reason
    if isinstance(error, OSError) and error.errno in _STORAGE_ERRORS:
        return error.strerror or text
    return None


def remove(path):
    """Removes a file or folder, if it exists."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


def temporary_name(path):
    """A hidden sibling of `path` that keeps its extension (writers pick formats by it)."""
    folder, name = os.path.split(os.path.abspath(path))
    # Everything after the first dot is kept: Keras wants ".weights.h5", not just ".h5".
    stem, dot, ext = name.partition(".")
    return os.path.join(folder, f".{stem}.partial-{os.getpid()}{dot}{ext}")


@contextlib.contextmanager
def atomic_output(path, overwrite=False, keep_first=False):
    """Yields a temporary path to write a file or folder into; it becomes `path` on success.

    Refuses (FileExistsError) when `path` exists and `overwrite` is False,
    before any work is done. `keep_first` is for caches that several processes
    may build at once: whoever finishes first wins, later copies are dropped
    (a reader of the first copy never sees it replaced).
    """
    if os.path.lexists(path) and not (overwrite or keep_first):
        raise FileExistsError(f"{path}: already exists (pass --overwrite to replace it)")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    partial = temporary_name(path)
    remove(partial)
    existed = os.path.lexists(path)
    try:
        yield partial
        if not os.path.lexists(partial):
            raise FileNotFoundError(f"{partial}: nothing was written for {path}")
        if not (keep_first and os.path.lexists(path)):
            publish(partial, path)
    except Exception as error:
        reason = _storage_failure(error)
        if reason is None:
            raise
        kept = f"the previous {os.path.basename(path)} is unchanged" if existed else "nothing was left behind"
        raise OutputError(f"{path}: could not be written ({reason}); {kept}") from error
    finally:
        remove(partial)


def require_free_space(folder, needed, what):
    """OutputError before any writing when `folder`'s file system has less than `needed` bytes free
    (some writers, HDF5's among them, fail badly on a full disk rather than with an error)."""
    os.makedirs(folder, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise OutputError(f"{folder}: {free / 1e6:.1f} MB free, {what} needs about {needed / 1e6:.1f} MB; "
                          "free some space and run the same command again")


def publish(partial, path):
    """Renames the finished `partial` to `path`, replacing what was there."""
    if os.path.isdir(partial) and os.path.isdir(path):
        # os.replace cannot replace a non-empty folder: move the old one aside first.
        old = f"{partial}.old"
        os.replace(path, old)
        os.replace(partial, path)
        remove(old)
    else:
        os.replace(partial, path)


def write_json(path, value):
    """Writes `value` as indented JSON to `path`, atomically."""
    with atomic_output(path, overwrite=True) as partial:
        with open(partial, "w") as f:
            json.dump(value, f, indent=1)
            f.write("\n")


def save_weights(model, path, needed_bytes=0):
    """`model.save_weights(path)` through a spool file on another file system (RAM where there is
    one): a full destination disk then fails in a plain copy, with a clean OSError, never inside
    HDF5, whose failed writes leave h5py objects that crash the interpreter at exit (exit -11)."""
    spool_root = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    if spool_root is None or shutil.disk_usage(spool_root).free < needed_bytes:
        spool_root = tempfile.gettempdir()
    require_free_space(spool_root, needed_bytes, "spooling the weights")
    with tempfile.TemporaryDirectory(dir=spool_root, prefix="keras_spgan-") as spool:
        spooled = os.path.join(spool, os.path.basename(path))  # keeps the .weights.h5 Keras wants
        model.save_weights(spooled)
        shutil.copyfile(spooled, path)
