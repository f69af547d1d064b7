"""Pipeline sub-commands: run, retrain, add-images, compile."""
import os

from colornet.pipeline import spans
from colornet.pipeline.config import PipelineConfig
from colornet.pipeline.profiles import PROFILES, profile_settings

# Where pipeline/Dockerfile installs the repository, so where a compiled pipeline finds the schema.
CONTAINER_SCHEMA_PATH = "/colornet/schemas/raw/schema.pbtxt"
_MODEL_FLAGS = ("variant", "image_size", "backbone", "backbone_size", "backbone_weights")


def add_pipeline_flags(parser, default_profile="full", default_workdir="runs/colornet"):
    """Flags that describe one pipeline (shared by run, retrain, compile and demo)."""
    parser.add_argument("--workdir", default=default_workdir, help="pipeline root, metadata and pushed models")
    parser.add_argument("--profile", choices=sorted(PROFILES), default=default_profile,
                        help="model/training settings (default: %(default)s); flags below override them")
    parser.add_argument("--train-steps", type=int)
    parser.add_argument("--variant", choices=("alpha", "beta", "fusion"))
    parser.add_argument("--image-size", type=int, help="model's working size, a multiple of 8")
    parser.add_argument("--backbone", choices=("inception_resnet_v2", "mobilenet_v2"))
    parser.add_argument("--backbone-size", type=int, help="classifier input size (default: its native size)")
    parser.add_argument("--backbone-weights", help="classifier weights: a local .h5 file or 'imagenet' (Keras' cache)")
    parser.add_argument("--no-cache", action="store_true", help="re-execute every component")
    parser.add_argument("--beam-arg", action="append", default=[], dest="beam_args",
                        help="a Beam pipeline option, e.g. --beam-arg=--runner=FlinkRunner (repeatable)")


def config_from_args(args, images_dir, **overrides):
    """A PipelineConfig from the profile, overridden by explicit flags and ``overrides``."""
    settings = profile_settings(args.profile)
    for name in _MODEL_FLAGS:
        value = getattr(args, name)
        if value is not None:
            settings["model"][name] = value
    if args.train_steps is not None:
        settings["train_steps"] = args.train_steps
    settings.update(overrides)
    return PipelineConfig(images_dir=str(images_dir), workdir=args.workdir, beam_args=args.beam_args,
                          enable_cache=not args.no_cache, **settings)


def _runner(name):
    # Runner modules import TFX orchestration: only when a command runs.
    if name == "beam":
        from colornet.pipeline import beam_runner
        return beam_runner
    from colornet.pipeline import local_runner
    return local_runner


def _missing_local_folder(path):
    """A clear message when a local photo folder does not exist (remote URIs are the runner's business)."""
    if "://" in str(path) or os.path.isdir(path):
        return None
    return f"Photo folder not found: {path}"


def _run(args):
    if problem := _missing_local_folder(args.images):
        print(problem)
        return 2
    _runner(args.runner).run(config_from_args(args, args.images))
    return 0


def _retrain(args):
    if problem := _missing_local_folder(args.images):
        print(problem)
        return 2
    found = spans.span_numbers(args.images)
    if not found:
        print(f"No span folders (span-1/, span-2/, ...) under {args.images}: add photos with `colornet add-images`.")
        return 2
    print(f"Retraining on spans {found[-args.rolling_spans:]} of {args.images}")
    config = config_from_args(args, args.images, spans=True, rolling_spans=args.rolling_spans)
    _runner(args.runner).run(config)
    return 0


def _add_images(args):
    span, count = spans.add_images(args.source, args.images)
    print(f"Added {count} files as span {span}: {args.images}/span-{span}")
    return 0


def _compile(args):
    from colornet.pipeline import kubeflow_runner

    settings = kubeflow_runner.KubeflowSettings(
        image=args.container_image, trainer_gpu_type=args.trainer_gpu or "",
        trainer_gpu_count=args.trainer_gpu_count)
    config = config_from_args(args, args.images, spans=args.spans, schema_file=args.schema_file)
    print(f"Wrote {kubeflow_runner.compile_pipeline(config, args.output, settings)}")
    return 0


def register(subparsers):
    run = subparsers.add_parser("run", help="run the TFX pipeline on a folder of photos")
    run.add_argument("--images", required=True, help="folder of photos (nested folders are read)")
    run.add_argument("--runner", choices=("local", "beam"), default="local")
    add_pipeline_flags(run)
    run.set_defaults(func=_run)

    retrain = subparsers.add_parser(
        "retrain", help="train on the newest span folders, warm-started from the last blessed model")
    retrain.add_argument("--images", required=True, help="folder holding span-1/, span-2/, ...")
    retrain.add_argument("--rolling-spans", type=int, default=3, help="how many recent spans to train on")
    retrain.add_argument("--runner", choices=("local", "beam"), default="local")
    add_pipeline_flags(retrain)
    retrain.set_defaults(func=_retrain)

    add = subparsers.add_parser("add-images", help="copy new photos in as the next span folder")
    add.add_argument("source", help="folder of new photos")
    add.add_argument("--images", required=True, help="folder holding span-1/, span-2/, ...")
    add.set_defaults(func=_add_images)

    compile_ = subparsers.add_parser("compile", help="compile the pipeline for Kubeflow Pipelines (KFP v2 JSON)")
    compile_.add_argument("--images", required=True, help="photo folder as the cluster sees it (e.g. gs://...)")
    compile_.add_argument("--output", default="pipeline.json")
    compile_.add_argument("--container-image", default="colornet:latest", help="image with colornet installed")
    compile_.add_argument("--trainer-gpu", help="accelerator type for the Trainer step, e.g. NVIDIA_TESLA_T4")
    compile_.add_argument("--trainer-gpu-count", type=int, default=1)
    compile_.add_argument("--schema-file", default=CONTAINER_SCHEMA_PATH,
                          help="the raw schema's path inside the container image (default: %(default)s)")
    compile_.add_argument("--spans", action="store_true",
                          help="read span folders: each run trains on the newest span, warm-started")
    add_pipeline_flags(compile_)
    compile_.set_defaults(func=_compile)
