"""Running an absl-flags command with the project's exit codes.

absl exits with status 1 on a flag it cannot parse (an unknown flag, a bad
value); the documented status for usage errors is 2, as argparse uses.
"""

import sys


def run(main):
    """`absl.app.run(main)`, with flag errors reported as `error: ...` and status 2."""
    from absl import app, flags

    def parse(argv):
        try:
            return flags.FLAGS(argv)
        except flags.Error as error:
            print(f"error: {error}\nRun with --help for the flags.", file=sys.stderr)
            sys.exit(2)

    app.run(main, flags_parser=parse)
