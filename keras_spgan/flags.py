"""Command-line flags for every keras-spgan command, on argparse.

argparse (the standard library) rather than absl: subcommands with their own flags, no global
flag registry shared by every imported module, and `--help` without importing TensorFlow.
What absl users rely on keeps working: `--flag=value`, `--flag value`, booleans as `--flag`,
`--noflag` and `--flag=false`, and `--flagfile FILE` (one flag per line, `#` comments), which is
how the training recipes in training/recipes/ are written.

Typed config dataclasses are the single source of their flags: `add_dataclass_flags` turns
each field (name, default, type, and the `help` / `choices` in its metadata) into a flag.
"""

import argparse
import dataclasses
import os
import typing

TRUE, FALSE = ("1", "true", "t", "yes", "y"), ("0", "false", "f", "no", "n")


def parse_bool(text):
    value = str(text).lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def add_bool(parser, name, default=False, help=None):  # noqa: A002 - argparse's own name
    """`--name`, `--name=true|false` and absl's `--noname`."""
    parser.add_argument(f"--{name}", nargs="?", const=True, default=default, type=parse_bool, metavar="BOOL",
                        help=help)
    parser.add_argument(f"--no{name}", dest=name, action="store_false", help=argparse.SUPPRESS)


def field_help(field):
    return field.metadata.get("help")


def add_dataclass_flags(parser, cls, skip=()):
    """One flag per field of the dataclass `cls` (but `skip`); Optional fields default to None."""
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        if field.name in skip or not field.init:
            continue
        kind = hints[field.name]
        optional = typing.get_origin(kind) is typing.Union and type(None) in typing.get_args(kind)
        if optional:
            kind = next(a for a in typing.get_args(kind) if a is not type(None))
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
        # A field may leave its flag unset (None) to tell "not given" from its default.
        default = field.metadata.get("flag_default", default)
        text = field_help(field)
        parse = field.metadata.get("parse")
        if kind is bool:
            add_bool(parser, field.name, default, text)
            continue
        if text and default not in (None, "", {}, ()):
            text += f" (default: {format_default(default)})"
        parser.add_argument(f"--{field.name}", type=_reported(parse) if parse else kind, default=default,
                            choices=field.metadata.get("choices"), metavar=field.metadata.get("metavar"),
                            help=text)


def _reported(parse):
    """`parse` with its errors in argparse's form (`argument --flag: message`, exit 2)."""
    def wrapped(text):
        try:
            return parse(text)
        except ValueError as error:
            message = str(error)
            flag = getattr(error, "flag", None)
            if flag and message.startswith(f"--{flag}: "):
                message = message[len(flag) + 4:]
            raise argparse.ArgumentTypeError(message) from None
    return wrapped


def format_default(value):
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return value


def expand_flagfiles(argv, _depth=0):
    """argv with each `--flagfile FILE` / `--flagfile=FILE` replaced by the flags in FILE."""
    if _depth > 10:
        raise argparse.ArgumentTypeError("--flagfile: nested more than 10 deep")
    expanded, arguments = [], list(argv)
    while arguments:
        argument = arguments.pop(0)
        if argument == "--flagfile" and arguments:
            path = arguments.pop(0)
        elif argument.startswith("--flagfile="):
            path = argument.split("=", 1)[1]
        else:
            expanded.append(argument)
            continue
        if not os.path.isfile(path):
            raise FileNotFoundError(f"--flagfile: {path}: no such file")
        with open(path) as f:
            lines = [line.strip() for line in f]
        expanded += expand_flagfiles([line for line in lines if line and not line.startswith("#")], _depth + 1)
    return expanded
