"""Errors of the command-line tools."""


class KerasSpganError(Exception):
    """Base of the errors keras-spgan reports to users as `error: ...` (no traceback)."""


class OutputError(KerasSpganError, OSError):
    """An output that could not be written (a full disk, a read-only folder); the message names
    the path, and says that the previous output, if any, is unchanged."""


class ConfigError(KerasSpganError, ValueError):
    """A bad flag or flag combination; `flag` names it. Raised before any work is done."""

    def __init__(self, flag, message):
        super().__init__(f"--{flag}: {message}")
        self.flag = flag
