"""TensorFlow's C++ log lines, filtered out of stderr for every command.

TF 2.21 logs from C++ through absl (`I0000 00:00:... port.cc:153] oneDNN custom operations are
on`, `E0000 ... failed call to cuInit`, grappler's `remapper failed`) as soon as it is imported,
and these lines ignore TF_CPP_MIN_LOG_LEVEL, GLOG_minloglevel and ABSL_MIN_LOG_LEVEL (measured:
all three leave them). So the commands route file descriptor 2 through a pipe whose reader drops
those lines and passes everything else on unchanged. `--verbose` leaves stderr alone.
"""

import atexit
import os
import re
import select
import sys
import threading

# absl's C++ log prefix: severity, MMDD, time, thread id, file:line]
_CPP_LOG_LINE = re.compile(rb"^(?:[IWEF]\d{4} [\d:.]+ +\d+ [^\]\s]+:\d+\] |"
                           rb"WARNING: All log messages before absl::InitializeLog\(\) is called|"
                           rb"To enable the following instructions: .* rebuild TensorFlow with the appropriate)")
_installed = None


def filter_tensorflow_logs():
    """Installs the filter (once per process), before TensorFlow is imported."""
    global _installed
    if _installed is not None:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # what does honour it stays quiet too
    try:
        sys.stderr.flush()
        real = os.dup(2)
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
    except OSError:  # no usable fd 2 (a daemon): nothing to filter
        return
    thread = threading.Thread(target=_forward, args=(read_end, real), name="tf-log-filter", daemon=True)
    thread.start()
    _installed = (real, thread)
    atexit.register(_restore)


def _restore():
    """Puts the real stderr back; the pipe then closes and the reader ends after what is left."""
    global _installed
    if _installed is None:
        return
    real, thread = _installed
    _installed = None
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os.dup2(real, 2)
    thread.join(timeout=2)


def _forward(read_end, real):
    pending = b""
    while True:
        # A line still open after 50 ms of silence (a progress line ending in \r, a prompt)
        # goes out as it is; complete lines are checked one by one.
        ready, _, _ = select.select([read_end], [], [], 0.05 if pending else None)
        if not ready:
            _write(real, pending)
            pending = b""
            continue
        chunk = os.read(read_end, 65536)
        if not chunk:
            _write(real, pending)
            os.close(read_end)
            return
        pending += chunk
        *lines, pending = re.split(rb"(?<=[\n\r])", pending)
        _write(real, b"".join(line for line in lines if not _CPP_LOG_LINE.match(line)))


def _write(fd, data):
    while data:
        try:
            data = data[os.write(fd, data):]
        except OSError:
            return
