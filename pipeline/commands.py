"""Pipeline sub-commands: run, retrain, add-images, compile."""
import os

from . import config as config_lib
from . import spans

# Where pipeline/Dockerfile installs the repository, so where a compiled pipeline finds the schema.
CONTAINER_SCHEMA_PATH = "/colornet/schemas/raw/schema.pbtxt"
# The sections the pipeline commands take flags for (``colornet ingest`` has the ingestion ones too).
_FLAG_SECTIONS = (config_lib.ModelConfig, config_lib.TrainingConfig, config_lib.BlessingConfig,
                  config_lib.IngestionConfig)


def add_section_flags(parser, section):
    """One flag per field of a config section (``pipeline/config.py``), in a group of its own."""
    group = parser.add_argument_group(section.section_name(), section.__doc__.splitlines()[0])
    for flag, kwargs, _ in config_lib.config_flags(section):
        group.add_argument(flag, **kwargs)


def section_overrides(args, section):
    """{field: value} of the section's flags that were given on the command line."""
    values = {name: getattr(args, kwargs["dest"]) for _, kwargs, name in config_lib.config_flags(section)}
    return {name: value for name, value in values.items() if value is not None}


def add_pipeline_flags(parser, default_profile="full", default_workdir="runs/colornet"):
    """Flags that describe one pipeline (shared by run, retrain, compile and demo)."""
    parser.add_argument("--workdir", default=default_workdir, help="pipeline root, metadata and pushed models")
    parser.add_argument("--profile", choices=sorted(config_lib.PROFILES), default=default_profile,
                        help="named settings (pipeline/config.py; default: %(default)s); flags below override them")
    parser.add_argument("--train-steps", type=int, help="training steps (default: the profile's)")
    parser.add_argument("--eval-steps", type=int, help="validation steps after each epoch (default: the profile's)")
    parser.add_argument("--no-cache", action="store_true", help="re-execute every component")
    parser.add_argument("--beam-arg", action="append", default=[], dest="beam_args",
                        help="a Beam pipeline option, e.g. --beam-arg=--runner=FlinkRunner (repeatable)")
    for section in _FLAG_SECTIONS:
        add_section_flags(parser, section)


def config_from_args(args, images_dir, **overrides):
    """A validated PipelineConfig from the profile, overridden by explicit flags and ``overrides``."""
    settings = {section.section_name(): section_overrides(args, section) for section in _FLAG_SECTIONS}
    for name in ("train_steps", "eval_steps"):
        if getattr(args, name) is not None:
            settings[name] = getattr(args, name)
    settings.update(overrides)
    return config_lib.pipeline_config(args.profile, images_dir, args.workdir, beam_args=args.beam_args,
                                      enable_cache=not args.no_cache, **settings)


def _runner(name):
    # Runner modules import TFX orchestration: only when a command runs.
    if name == "beam":
        from . import beam_runner
        return beam_runner
    from . import local_runner
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
    from . import kubeflow_runner

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
