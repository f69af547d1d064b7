"""``colornet demo``: the embedded default, end to end on this machine.

Writes the bundled sample photos, runs the pipeline (LocalDagRunner, SQLite metadata),
starts the local TF Serving-compatible gRPC server on the pushed model, colorizes a
black-and-white photo through the gRPC client and prints where the PNG is.
"""
import pathlib

from .commands import add_pipeline_flags, config_from_args


def _step(number, text):
    print(f"[{number}/4] {text}", flush=True)


def _demo(args):
    # TFX, TensorFlow and gRPC load only when the demo runs, so `colornet --help` stays quick.
    from ..schemas.serving_contract import loadable_versions
    from ..serving.client import ColorizeClient
    from ..serving.server import start_server
    from . import local_runner, sample_photos

    workdir = pathlib.Path(args.workdir)
    images = workdir / "images"
    _step(1, f"writing sample photos to {images}")
    sample_photos.write_color_photos(images)

    # Nine photos do not pay back multi-process Beam workers' start-up (~30 s per Beam job).
    config = config_from_args(args, images)
    config.beam_args = ["--direct_running_mode=in_memory", *config.beam_args]
    _step(2, f"running the TFX pipeline (workdir {workdir}, profile {args.profile}); this takes a few minutes")
    local_runner.run(config)
    versions = loadable_versions(config.serving_dir)
    if not versions:
        print(f"No model was pushed to {config.serving_dir}: the Evaluator did not bless it "
              f"(see the Evaluator's output under {config.pipeline_root}).")
        return 1

    _step(3, f"serving {config.serving_dir} (versions {versions}) on 127.0.0.1")
    server = start_server(config.serving_dir, host="127.0.0.1", port=args.port)
    try:
        target = f"127.0.0.1:{server.port}"
        gray = sample_photos.gray_photo_path()
        _step(4, f"colorizing {gray} through gRPC at {target}")
        with ColorizeClient(target) as client:
            (png,) = client.colorize([gray.read_bytes()])
    finally:
        server.stop()
    output = workdir / "colorized.png"
    output.write_bytes(png)
    print(f"Colorized photo: {output.resolve()}")
    return 0


def register(subparsers):
    parser = subparsers.add_parser("demo", help="run everything on the bundled sample photos (embedded default)")
    add_pipeline_flags(parser, default_profile="demo", default_workdir="runs/demo")
    parser.add_argument("--port", type=int, default=0, help="gRPC port of the local server (default: a free one)")
    parser.set_defaults(func=_demo)
