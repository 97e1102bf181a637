"""Writing outputs so that a reader never sees half of one.

Everything is written under a temporary name beside its destination (same
file system, so the final rename is atomic) and renamed when complete; on any
error the temporary is removed and a previous output is left as it was. The
temporary name starts with a dot and is not a number, so TF Serving, which
watches a model's folder for numeric version folders, never picks it up.
"""

import contextlib
import json
import os
import shutil


def remove(path):
    """Removes a file or folder, if it exists."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


def temporary_name(path):
    """A hidden sibling of `path` that keeps its extension (writers pick formats by it)."""
    folder, name = os.path.split(os.path.abspath(path))
    stem, ext = os.path.splitext(name)
    return os.path.join(folder, f".{stem}.partial-{os.getpid()}{ext}")


@contextlib.contextmanager
def atomic_output(path, overwrite=False):
    """Yields a temporary path to write a file or folder into; it becomes `path` on success.

    Refuses (FileExistsError) when `path` exists and `overwrite` is False,
    before any work is done.
    """
    if os.path.lexists(path) and not overwrite:
        raise FileExistsError(f"{path}: already exists (pass --overwrite to replace it)")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    partial = temporary_name(path)
    remove(partial)
    try:
        yield partial
        if not os.path.lexists(partial):
            raise FileNotFoundError(f"{partial}: nothing was written for {path}")
        publish(partial, path)
    finally:
        remove(partial)


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
