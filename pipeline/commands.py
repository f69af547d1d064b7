"""Pipeline sub-commands: run, retrain, add-images, compile, beam-cluster."""
import os

from ..schemas import config as config_lib
from ..components.ingestion import spans

# Where the step images (pipeline/docker/) install the wheel's raw schema, so where a compiled pipeline
# finds it; each image's build checks that this is where colornet.schemas.RAW_SCHEMA_PATH is.
CONTAINER_SCHEMA_PATH = "/usr/local/lib/python3.10/site-packages/colornet/schemas/raw/schema.pbtxt"
# What `--runner beam` (TFX's BeamDagRunner) became.
BEAM_RUNNER_GONE = (
    "--runner beam is gone: with Beam runner options TFX's BeamDagRunner ran the orchestration itself on that "
    "runner (its legacy mode), shipping component launchers to workers that have neither colornet nor the "
    "metadata store. The pipeline is orchestrated here and only the components' Beam jobs go to a cluster: "
    "colornet run --images DIR --beam-arg=--runner=PortableRunner --beam-arg=--job_endpoint=HOST:8099 "
    "--beam-arg=--environment_type=EXTERNAL --beam-arg=--environment_config=HOST:50000 "
    "(Flink, Spark, Dataflow: README, Runners).")
_RUNNER_HELP = ("local: LocalDagRunner, the orchestrator of every run (default); 'beam' is gone: the "
                "components' Beam jobs go to a cluster with --beam-arg")
# The sections the pipeline commands take flags for (``colornet ingest`` has the ingestion ones too).
_FLAG_SECTIONS = (config_lib.ModelConfig, config_lib.TrainingConfig, config_lib.BlessingConfig,
                  config_lib.IngestionConfig)


def add_pipeline_flags(parser, default_profile="cpu", default_workdir="runs/colornet"):
    """Flags that describe one pipeline (shared by run, retrain, compile and demo)."""
    parser.add_argument("--workdir", default=default_workdir, help="pipeline root, metadata and pushed models")
    parser.add_argument("--profile", choices=sorted(config_lib.PROFILES), default=default_profile,
                        help="named settings (schemas/config.py; default: %(default)s); flags below override them")
    parser.add_argument("--train-steps", type=int, help="training steps (default: the profile's)")
    parser.add_argument("--eval-steps", type=int, help="validation steps after each epoch (default: the profile's)")
    parser.add_argument("--no-cache", action="store_true", help="re-execute every component")
    parser.add_argument("--beam-arg", action="append", default=[], dest="beam_args",
                        help="a Beam option for the components' Beam jobs, e.g. --beam-arg=--runner=PortableRunner "
                             "(repeatable; orchestration stays here)")
    for section in _FLAG_SECTIONS:
        config_lib.add_section_flags(parser, section)


def config_from_args(args, images_dir, **overrides):
    """A validated PipelineConfig from the profile, overridden by explicit flags and ``overrides``."""
    settings = {section.section_name(): config_lib.section_overrides(args, section) for section in _FLAG_SECTIONS}
    for name in ("train_steps", "eval_steps"):
        if getattr(args, name) is not None:
            settings[name] = getattr(args, name)
    settings.update(overrides)
    return config_lib.pipeline_config(args.profile, images_dir, args.workdir, beam_args=args.beam_args,
                                      enable_cache=not args.no_cache, **settings)


def _run_locally(config):
    """Runs ``config`` under the local orchestrator; 2 when its ``--job_endpoint`` does not answer."""
    from .beam_options import check_job_endpoint
    try:
        check_job_endpoint(config.beam_args)
    except ConnectionError as error:
        print(error)
        return 2
    from . import local_runner  # TFX orchestration: only when a command runs
    local_runner.run(config)
    return 0


def _missing_local_folder(path):
    """A clear message when a local photo folder does not exist (remote URIs are the runner's business)."""
    if "://" in str(path) or os.path.isdir(path):
        return None
    return f"Photo folder not found: {path}"


def _refused(args):
    """Why a run or retrain cannot start (a plain message), or None."""
    return BEAM_RUNNER_GONE if args.runner == "beam" else _missing_local_folder(args.images)


def _run(args):
    if problem := _refused(args):
        print(problem)
        return 2
    return _run_locally(config_from_args(args, args.images, metadata=args.metadata))


def _retrain(args):
    if problem := _refused(args):
        print(problem)
        return 2
    if not spans.span_numbers(args.images):
        print(f"No span folders (span-1/, span-2/, ...) under {args.images}: add photos with `colornet add-images`.")
        return 2
    config = config_from_args(args, args.images, spans=True, rolling_spans=args.rolling_spans, metadata=args.metadata)
    return _run_locally(config)


def _add_images(args):
    span, count = spans.add_images(args.source, args.images)
    print(f"Added {count} files as span {span}: {args.images}/span-{span}")
    return 0


def _node_selector(items):
    """``["KEY=VALUE", ...]`` -> ``(("KEY", "VALUE"), ...)``."""
    pairs = tuple(tuple(item.split("=", 1)) for item in items)
    if any(len(pair) != 2 or not all(pair) for pair in pairs):
        raise config_lib.ConfigError(f"--trainer-node-selector takes KEY=VALUE, got {list(items)}")
    return pairs


def _submission_hint(target, output, pipeline_root, pipeline_name):
    """How to submit what ``compile`` wrote."""
    if target == "vertex":
        return (f"Submit it to Vertex AI Pipelines: google.cloud.aiplatform.PipelineJob(display_name={pipeline_name!r}, "
                f"template_path={output!r}).submit()")
    return ("Submit it with the pipeline root it was compiled for (open-source KFP ignores the one in the file):\n"
            f"  kfp.Client(host=...).create_run_from_pipeline_package({output!r}, pipeline_root={pipeline_root!r})\n"
            f"  kfp.Client(host=...).create_recurring_run(EXPERIMENT_ID, {pipeline_name + ' nightly'!r}, "
            f"pipeline_package_path={output!r}, cron_expression='0 0 3 * * *', max_concurrency=1, "
            f"pipeline_root={pipeline_root!r})")


def _compile(args):
    from . import kubeflow_runner  # TFX's Kubeflow compiler: only when the command runs

    settings = kubeflow_runner.KubeflowSettings(
        target=args.target, image=args.container_image, trainer_image=args.trainer_image or "",
        trainer_gpu=args.trainer_gpu or "", trainer_gpu_count=args.trainer_gpu_count,
        trainer_node_selector=_node_selector(args.trainer_node_selector))
    config = config_from_args(args, args.images, spans=args.spans, schema_file=args.schema_file)
    output = args.output or ("pipeline.json" if args.target == "vertex" else "pipeline.yaml")
    kubeflow_runner.compile_pipeline(config, output, settings)
    print(f"Wrote {output} ({args.target}).")
    if settings.trainer_gpu and not args.trainer_image:
        print(f"Note: the Trainer requests {settings.trainer_gpu} but runs {args.container_image}, like every step: "
              "unless that is the GPU image, give --trainer-image the GPU image (pipeline/docker/Dockerfile).")
    print(_submission_hint(args.target, output, config.pipeline_root, config.pipeline_name))
    return 0


def _beam_cluster(args):
    from . import beam_cluster  # Beam and gRPC: only when the command runs

    return beam_cluster.serve(args.job_port, args.worker_port, args.workers)


def _add_metadata_flag(parser):
    parser.add_argument("--metadata", default="",
                        help="the local SQLite ML Metadata file (default: metadata.sqlite in --workdir, or for a "
                             "remote workdir such as gs://... in ~/.cache/colornet/workdirs/ under the workdir's name)")


def register(subparsers):
    run = subparsers.add_parser("run", help="run the TFX pipeline on a folder of photos")
    run.add_argument("--images", required=True, help="folder of photos (nested folders are read)")
    run.add_argument("--runner", choices=("local", "beam"), default="local", help=_RUNNER_HELP)
    _add_metadata_flag(run)
    add_pipeline_flags(run)
    run.set_defaults(func=_run)

    retrain = subparsers.add_parser(
        "retrain", help="ingest every new span folder, train on the last ones, warm-started from the last blessed model")
    retrain.add_argument("--images", required=True, help="folder holding span-1/, span-2/, ...")
    retrain.add_argument("--rolling-spans", type=int, default=3,
                         help="train on the last N spans ingested (every span not ingested yet is ingested first, "
                              "oldest first; default: %(default)s)")
    retrain.add_argument("--runner", choices=("local", "beam"), default="local", help=_RUNNER_HELP)
    _add_metadata_flag(retrain)
    add_pipeline_flags(retrain)
    retrain.set_defaults(func=_retrain)

    add = subparsers.add_parser("add-images", help="copy new photos in as the next span folder")
    add.add_argument("source", help="folder of new photos")
    add.add_argument("--images", required=True, help="folder holding span-1/, span-2/, ...")
    add.set_defaults(func=_add_images)

    compile_ = subparsers.add_parser(
        "compile", help="compile the pipeline for Kubeflow Pipelines: Vertex AI or open-source KFP v2")
    compile_.add_argument("--images", required=True, help="photo folder as the cluster sees it (e.g. gs://...)")
    compile_.add_argument("--target", choices=config_lib.KUBEFLOW_TARGETS, default="vertex",
                          help="vertex: a PipelineJob JSON for Vertex AI Pipelines; kfp: a pipeline package (YAML) "
                               "for open-source Kubeflow Pipelines v2 (default: %(default)s)")
    compile_.add_argument("--output", help="default: pipeline.json (vertex), pipeline.yaml (kfp)")
    compile_.add_argument("--container-image", default="colornet:cpu",
                          help="every step's image (pipeline/docker/Dockerfile; default: %(default)s)")
    compile_.add_argument("--trainer-image", help="the Trainer step's image, e.g. the GPU image "
                                                  "(pipeline/docker/Dockerfile with the GPU lock; default: --container-image)")
    compile_.add_argument("--trainer-gpu", help="the Trainer's accelerator: a Vertex type such as NVIDIA_TESLA_T4 "
                                                "(vertex), a Kubernetes resource name such as nvidia.com/gpu (kfp)")
    compile_.add_argument("--trainer-gpu-count", type=int, default=1)
    compile_.add_argument("--trainer-node-selector", action="append", default=[], metavar="KEY=VALUE",
                          help="kfp: a node label the Trainer's pod needs, e.g. "
                               "cloud.google.com/gke-accelerator=nvidia-tesla-t4 (repeatable)")
    compile_.add_argument("--schema-file", default=CONTAINER_SCHEMA_PATH,
                          help="the raw schema's path inside the container image (default: %(default)s)")
    compile_.add_argument("--spans", action="store_true",
                          help="vertex: read span folders: each run trains on the newest span, warm-started")
    add_pipeline_flags(compile_)
    compile_.set_defaults(func=_compile)

    cluster = subparsers.add_parser(
        "beam-cluster", help="a local Beam Job API and SDK worker pool on 127.0.0.1 for the portable runner")
    cluster.add_argument("--job-port", type=int, default=8099, help="Beam Job API port (0: a free one)")
    cluster.add_argument("--worker-port", type=int, default=50000, help="SDK worker pool port (0: a free one)")
    cluster.add_argument("--workers", type=int, default=1,
                         help="SDK worker processes per Beam job, unless the job's --direct_num_workers says otherwise")
    cluster.set_defaults(func=_beam_cluster)
