"""The ``colornet`` command line: one parser, one sub-command per task.

Each area registers its own sub-commands (``register(subparsers)``); this module only
assembles them.
"""
import argparse
import logging
import os
import sys
import warnings

# TensorFlow's C++ start-up chatter (CUDA probes, CPU features) buries the progress lines; errors still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# google-api-core warns in every process (Beam workers included, through the environment) that
# Python 3.10 is unsupported; TFX 1.16 needs 3.10.
os.environ.setdefault("PYTHONWARNINGS", "ignore::FutureWarning")
warnings.filterwarnings("ignore", category=FutureWarning)

from colornet.components.ingestion import commands as ingestion_commands
from colornet.components.ingestion.unsplash import commands as unsplash_commands
from colornet.components.quality import commands as quality_commands
from colornet.pipeline import commands as pipeline_commands
from colornet.pipeline import demo
from colornet.serving import commands as serving_commands


def build_parser():
    parser = argparse.ArgumentParser(prog="colornet", description="Colorize black-and-white photos.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    subparsers = parser.add_subparsers(dest="command", required=True)
    demo.register(subparsers)
    pipeline_commands.register(subparsers)
    ingestion_commands.register(subparsers)
    unsplash_commands.register(subparsers)
    quality_commands.register(subparsers)
    serving_commands.register(subparsers)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
