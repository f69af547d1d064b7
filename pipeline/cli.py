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

from ..components.evaluation import commands as evaluation_commands
from ..components.ingestion import commands as ingestion_commands
from ..components.ingestion.unsplash import commands as unsplash_commands
from ..serving import commands as serving_commands
from . import commands as pipeline_commands
from . import demo, disk_space
from ..schemas.config import ConfigError


def build_parser():
    parser = argparse.ArgumentParser(prog="colornet", description="Colorize black-and-white photos.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    subparsers = parser.add_subparsers(dest="command", required=True)
    demo.register(subparsers)
    pipeline_commands.register(subparsers)
    ingestion_commands.register(subparsers)
    unsplash_commands.register(subparsers)
    evaluation_commands.register(subparsers)
    serving_commands.register(subparsers)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except ConfigError as error:
        print(f"colornet {args.command}: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # pylint: disable=broad-except
        full = disk_space.disk_full(error)
        if full is None:
            raise
        print(f"colornet {args.command}: {disk_space.describe(full, _output_folder(args))}", file=sys.stderr)
        return 1


def _output_folder(args):
    """Where a command writes (the file system to blame for a full disk when the error names no file)."""
    for name in ("workdir", "output", "images"):
        if getattr(args, name, None):
            return getattr(args, name)
    return os.getcwd()


if __name__ == "__main__":
    sys.exit(main())
