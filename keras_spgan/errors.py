"""The errors keras-spgan reports to users, and the exit status of each.

Every error a user can cause or meet derives from `KerasSpganError`; the command-line spine
(`keras_spgan.cli`) prints it as `error: ...` without a traceback (`--debug` shows one) and exits
with `exit_code(error)`:
  2  the command cannot run as given: a flag, an input file or dataset, a model path, an
     output that exists without --overwrite (nothing was done);
  1  it ran and failed: an output that could not be written, a failed parity check, a server
     that refused;
  130 / 143  interrupted (Ctrl-C / SIGTERM; training saves its checkpoint first).
Subclasses live beside the code that raises them: ConfigError, OutputError and ModelLoadError (here), DatasetError and
FrameError (keras_spgan.data), PresetError
(keras_spgan.presets), ParityError (export), ServingError and
ServingClientError (serving).
"""

USAGE, FAILURE, INTERRUPTED, TERMINATED = 2, 1, 130, 143


class KerasSpganError(Exception):
    """Base of the errors keras-spgan reports to users as `error: ...` (no traceback)."""

    exit_code = USAGE


class OutputError(KerasSpganError, OSError):
    """An output that could not be written (a full disk, a read-only folder); the message names
    the path, and says that the previous output, if any, is unchanged."""

    exit_code = FAILURE


class ConfigError(KerasSpganError, ValueError):
    """A bad flag or flag combination; `flag` names it. Raised before any work is done."""

    def __init__(self, flag, message):
        super().__init__(f"--{flag}: {message}")
        self.flag = flag


class ModelLoadError(KerasSpganError, ValueError):
    """A model path that does not hold a usable model; the message names the path.
    (Here rather than in keras_spgan.models, so that code that only reports it needs no Keras.)"""


def exit_code(error):
    """The exit status for an exception that reached a command's top."""
    if isinstance(error, KerasSpganError):
        return error.exit_code
    if isinstance(error, FileExistsError):  # an output there already, without --overwrite
        return USAGE
    return FAILURE
