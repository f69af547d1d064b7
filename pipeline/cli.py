"""The ``colornet`` command line: one parser, one sub-command per task.

Each area registers its own sub-commands (``register(subparsers)``); this module only
assembles them and owns the pipeline commands (``run``, ``demo``).
"""
import argparse
import logging
import sys

from colornet.components.ingestion import commands as ingestion_commands
from colornet.components.quality import commands as quality_commands
from colornet.pipeline import demo
from colornet.pipeline.config import PipelineConfig
from colornet.pipeline.profiles import PROFILES, profile_settings
from colornet.serving import commands as serving_commands

_MODEL_FLAGS = ("variant", "image_size", "backbone", "backbone_size", "backbone_weights")


def add_pipeline_flags(parser, default_profile="full", default_workdir="runs/colornet"):
    """Flags that describe one pipeline (shared by run, demo and later commands)."""
    parser.add_argument("--workdir", default=default_workdir, help="pipeline root, metadata and pushed models")
    parser.add_argument("--profile", choices=sorted(PROFILES), default=default_profile,
                        help="model/training settings (default: %(default)s); flags below override them")
    parser.add_argument("--train-steps", type=int)
    parser.add_argument("--variant", choices=("alpha", "beta", "fusion"))
    parser.add_argument("--image-size", type=int, help="model's working size, a multiple of 8")
    parser.add_argument("--backbone", choices=("inception_resnet_v2", "mobilenet_v2"))
    parser.add_argument("--backbone-size", type=int, help="classifier input size (default: its native size)")
    parser.add_argument("--backbone-weights", help="classifier weights: a local .h5 file or 'imagenet' (Keras' cache)")
    parser.add_argument("--beam-arg", action="append", default=[], dest="beam_args",
                        help="a Beam pipeline option, e.g. --beam-arg=--direct_num_workers=2 (repeatable)")


def config_from_args(args, images_dir):
    """A PipelineConfig from the profile, overridden by explicit flags."""
    settings = profile_settings(args.profile)
    for name in _MODEL_FLAGS:
        value = getattr(args, name)
        if value is not None:
            settings["model"][name] = value
    if args.train_steps is not None:
        settings["train_steps"] = args.train_steps
    return PipelineConfig(images_dir=str(images_dir), workdir=args.workdir, beam_args=args.beam_args, **settings)


def _run(args):
    from colornet.pipeline import local_runner  # imports TFX's orchestration: only when running

    local_runner.run(config_from_args(args, args.images))
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="colornet", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    subparsers = parser.add_subparsers(dest="command", required=True)

    run = subparsers.add_parser("run", help="run the TFX pipeline on a folder of photos")
    run.add_argument("--images", required=True, help="folder of photos (nested folders are read)")
    add_pipeline_flags(run)
    run.set_defaults(func=_run)

    demo.register(subparsers, add_pipeline_flags)
    ingestion_commands.register(subparsers)
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
