"""The `keras-spgan` command: `keras-spgan deblur ...`, `keras-spgan synthesize ...`, `keras-spgan presets`."""

import sys

COMMANDS = {
    "deblur": ("keras_spgan.deblur", "deblur a video or a folder of frames"),
    "synthesize": ("keras_spgan.data.synthesize", "make a blurry/sharp dataset from sharp footage"),
    "presets": ("keras_spgan.presets", "list the pretrained presets"),
}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        listing = "\n".join(f"  {name:<11} {text}" for name, (_, text) in COMMANDS.items())
        print(f"usage: keras-spgan COMMAND ...\n\ncommands:\n{listing}\n\n"
              "keras-spgan COMMAND --help for its options", file=sys.stderr if argv else sys.stdout)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    import importlib

    module = importlib.import_module(COMMANDS[argv[0]][0])
    return module.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
