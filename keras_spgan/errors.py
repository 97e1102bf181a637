"""Errors of the command-line tools."""


class ConfigError(ValueError):
    """A bad flag or flag combination; `flag` names it. Raised before any work is done."""

    def __init__(self, flag, message):
        super().__init__(f"--{flag}: {message}")
        self.flag = flag
