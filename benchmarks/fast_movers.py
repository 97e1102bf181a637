"""Held-out photos crossed by fast, bending objects: does a model trust neighbours the flow misplaced?

    python benchmarks/fast_movers.py [--models spn_strong runs/presets/spn-j10] [--alignment flow]
                                     [--out benchmarks/results/fast_movers.json]

The clips of `training.fast_movers`: the held-out photos coffee and chelsea (never trained on)
under a slowly drifting camera, four objects cut from the other photo crossing them at 12-30 px
per frame while they bend and turn, then blurred by camera shake as `benchmarks/real_footage.py`
blurs real clips (mild, medium, strong). The optical flow that aligns windows misses the movers:
a network trained to trust its aligned neighbours ghosts them, as it ghosts riders in real
footage, which the held-out photo clips and the fast pans (rigid scenes) do not show. Every frame
of every clip, restored as `keras-spgan deblur` runs it, RGB PSNR against the sharp frames.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # training/, run from anywhere

from benchmarks.short_shutter import write_results  # noqa: E402
from training import fast_movers  # noqa: E402


def run(models, alignment=None, log=print):
    made = fast_movers.clips()
    results = {"protocol": fast_movers.PROTOCOL, "alignment": alignment or "as each model was trained",
               "models": {}}
    for model in models:
        log(f"{model}:")
        results["models"][model] = fast_movers.measure(model, log, made=made, alignment=alignment)["rgb"]
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["spn_strong"], help="preset names or folders, run dirs")
    parser.add_argument("--alignment", choices=("none", "flow"), default=None,
                        help="feed every model its windows so (default: as each model was trained)")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "fast_movers.json"))
    parser.add_argument("--note", default="", help="what the models are (kept with the numbers)")
    args = parser.parse_args()
    write_results(args.out, run(args.models, args.alignment), args.note)


if __name__ == "__main__":
    main()
