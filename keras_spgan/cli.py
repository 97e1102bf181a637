"""The `keras-spgan` command: one spine for every job.

  keras-spgan fit --strategy mirrored          (= python -m training.fit ...)
  keras-spgan evaluate --model runs/spn        (= python -m training.evaluate ...)
  keras-spgan deblur shaky.mp4 sharp.mp4       (= python -m keras_spgan.deblur ...)
  keras-spgan export tflite --model spn --out models/spn.tflite
  keras-spgan COMMAND --help

Each command is a module with `add_arguments(parser)` (flags only: no TensorFlow import) and
`run(args)` (the work, returning an exit status). This module parses, filters TensorFlow's C++
log lines out of stderr (`--verbose` keeps them), runs the command, and turns errors into
`error: ...` and an exit status (keras_spgan.errors; `--debug` prints the traceback). The
`python -m` forms call `main()` with their command's name.
"""

import argparse
import importlib
import sys
import traceback

# name: (module, one-line help). Modules are imported only for the command that runs.
COMMANDS = {
    "fit": ("training.fit", "train SPN / SPGAN / SPGAN-plain (the main job)"),
    "evaluate": ("training.evaluate", "PSNR / SSIM of models on a dataset, in the paper's table layout"),
    "ablation": ("training.ablation", "train and evaluate the paper's Table 3 variants"),
    "preset": ("training.preset", "turn a finished training run into a preset folder"),
    "average": ("training.average", "average the weights of SPNs fine-tuned from one another (a model soup)"),
    "synthesize": ("keras_spgan.data.synthesize", "make a blurry/sharp dataset from sharp footage"),
    "stills": ("keras_spgan.data.training_set", "build the presets' training set from permissively licensed photos"),
    "deblur": ("keras_spgan.deblur", "deblur a video or a folder of frames"),
    "presets": ("keras_spgan.presets", "list the pretrained presets"),
    "export": (None, "export a model: saved_model | tflite | onnx"),
    "serve": ("serving.server", "a local TF-Serving-compatible REST / gRPC server"),
    "prepare": ("serving.prepare", "lay out models/ and models.config for TF Serving"),
    "client": ("serving.client", "deblur a video through a TF Serving server"),
}
EXPORTS = {
    "saved_model": ("export.saved_model", "SavedModel for TF Serving (versioned folder)"),
    "tflite": ("export.tflite", "TFLite: float, float16, dynamic-range or int8"),
    "onnx": ("export.onnx", "ONNX (tf2onnx)"),
}
PROG = "keras-spgan"


def _common_flags():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", action="store_true", help="keep TensorFlow's C++ log lines on stderr")
    common.add_argument("--debug", action="store_true", help="print the traceback of an error")
    return common


def _command_parser(prog, module_name, description):
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=prog, description=module.__doc__ or description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     parents=[_common_flags()])
    module.add_arguments(parser)
    return parser, module


def _listing(commands):
    return "\n".join(f"  {name:<12} {text}" for name, (_, text) in commands.items())


def _usage(argv):
    """Top-level help (no command imported); status 0 for --help, 2 for a missing or unknown command."""
    asked = bool(argv) and argv[0] in ("-h", "--help")
    text = (f"usage: {PROG} COMMAND [flags]\n\ncommands:\n{_listing(COMMANDS)}\n\n"
            f"{PROG} COMMAND --help lists a command's flags; every command also takes --verbose and --debug.")
    if argv and not asked:
        text = f"error: unknown command {argv[0]!r}\n\n{text}"
    print(text, file=sys.stdout if asked else sys.stderr)
    return 0 if asked else 2


def resolve(argv):
    """(prog, module name, description, remaining argv) for a command line, or an exit status."""
    if not argv or argv[0] not in COMMANDS:
        return _usage(argv)
    name, rest = argv[0], argv[1:]
    module_name, text = COMMANDS[name]
    if module_name is not None:
        return f"{PROG} {name}", module_name, text, rest
    asked = bool(rest) and rest[0] in ("-h", "--help")
    if not rest or rest[0] not in EXPORTS:
        print(f"usage: {PROG} export FORMAT [flags]\n\nformats:\n{_listing(EXPORTS)}",
              file=sys.stdout if asked else sys.stderr)
        return 0 if asked else 2
    module_name, text = EXPORTS[rest[0]]
    return f"{PROG} export {rest[0]}", module_name, text, rest[1:]


def main(argv=None, filter_logs=None):
    """Runs a command line; returns its exit status. `filter_logs` (default: when argv comes from
    sys.argv, i.e. a process's own command) routes stderr through keras_spgan.quiet."""
    if filter_logs is None:
        filter_logs = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    resolved = resolve(argv)
    if isinstance(resolved, int):
        return resolved
    prog, module_name, text, rest = resolved
    from keras_spgan import errors, flags

    try:
        rest = flags.expand_flagfiles(rest)
    except (OSError, argparse.ArgumentTypeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return errors.USAGE
    if filter_logs and "--verbose" not in rest:
        from keras_spgan.quiet import filter_tensorflow_logs

        filter_tensorflow_logs()  # before anything imports TensorFlow
    parser, module = _command_parser(prog, module_name, text)
    args = parser.parse_args(rest)  # usage errors: argparse prints them and exits 2
    try:
        return module.run(args) or 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return errors.INTERRUPTED
    except (errors.KerasSpganError, FileExistsError) as error:
        if args.debug:
            traceback.print_exc()
        print(f"error: {error}", file=sys.stderr)
        return errors.exit_code(error)


def alias(name):
    """`python -m <module>` of a command: the same as `keras-spgan <name> ...`."""
    sys.exit(main([*name.split(), *sys.argv[1:]], filter_logs=True))


if __name__ == "__main__":
    sys.exit(main())
