"""Serving sub-commands of ``colornet``: serve, colorize, serving-config, model-status."""
import argparse
import functools
import os
import pathlib
import sys

import grpc

from ..schemas import serving_contract as contract
from ..schemas.photo_files import printable
from . import client as serving_client
from .limits import BYTES_PER_PIXEL, ServingLimits, add_limit_flags, limits_from_args

_SERVE_EPILOG = f"""\
Every request is checked against these limits before anything is expanded or decoded (each
photo's width x height is read from its header). What bad input gets back, gRPC status / REST
HTTP status with TF Serving's body {{"error": "..."}}:
  INVALID_ARGUMENT / 400   malformed tensor (dtype, shape, fewer elements than declared), bad JSON
                           or base64, unreadable header, photo over --max-image-pixels, more than
                           --max-batch-size photos ("Task size N is larger than maximum input batch
                           size M"), unknown version label, every photo of the request undecodable
  RESOURCE_EXHAUSTED / 429 request over --max-request-bytes or --max-request-pixels (REST: a body
                           over --max-request-bytes is 413, refused before it is read)
  UNAVAILABLE / 503        server busy: byte, pixel or graph-run budget full (clients retry)
  NOT_FOUND / 404          unknown model or version, or no version loaded yet
  DEADLINE_EXCEEDED / 408  request not complete within --read-timeout-seconds
  - / 400, 431             malformed HTTP (bad Content-Length, oversized headers)
A photo the graph cannot decode fails alone: its "errors" output says why and its PNG is empty;
a request whose photos all fail, or that filtered "errors" out, is INVALID_ARGUMENT naming them.
Memory: decoding and colorizing cost at most about {BYTES_PER_PIXEL} bytes per input pixel, so the
default --max-inflight-pixels holds decoded photos under \
{ServingLimits().max_inflight_pixels * BYTES_PER_PIXEL / 2**30:.1f} GiB; the README gives the whole bound.
"""


def version_label(text):
    """``LABEL=VERSION`` (a ``--version-label`` value) -> (label, version)."""
    label, _, version = text.partition("=")
    if not label or "/" in label or ":" in label or not version.isdigit():
        raise argparse.ArgumentTypeError(f"expected LABEL=VERSION (e.g. stable=1700000000), got {text!r}")
    return label, int(version)


def _labels(pairs):
    labels = dict(pairs or ())
    if len(labels) != len(pairs or ()):
        raise SystemExit("each --version-label LABEL may be given once")
    return labels


def _serve(args):
    try:
        limits = limits_from_args(args)
    except ValueError as error:
        print(f"invalid limits: {error}", file=sys.stderr)
        return 2
    if args.release_memory:
        # TensorFlow's oneDNN allocator keeps its pool for reuse; the plain one gives memory back.
        # Read once when TensorFlow loads: set before the server imports it.
        if "tensorflow" in sys.modules:
            print("--release-memory must be set before TensorFlow is loaded", file=sys.stderr)
            return 2
        os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
    from .errors import ServingError
    from .server import serve

    def announce(running):
        rest = f", REST on {args.host}:{running.rest_port}" if running.rest_port else ""
        print(f"Serving model {args.model_name!r} from {args.model_dir} on {running.address} (gRPC){rest}; "
              f"Ctrl-C or SIGTERM stops it.", flush=True)

    try:
        serve(args.model_dir, host=args.host, port=args.port, model_name=args.model_name,
              poll_seconds=args.poll_seconds, num_versions=args.num_versions, rest_port=args.rest_port,
              on_ready=announce, limits=limits, version_labels=_labels(args.version_label),
              release_memory=args.release_memory)
    except (ServingError, OSError) as error:
        print(f"cannot serve: {getattr(error, 'message', error)}", file=sys.stderr)
        return 1
    print("Server stopped.", flush=True)
    return 0


def _reports_client_errors(handler):
    """A failed call prints what went wrong (the server's status and message, or the client's reason), not a
    traceback, and exits 1 (2 when the output cannot be written)."""

    @functools.wraps(handler)
    def run(args):
        try:
            return handler(args)
        except (grpc.RpcError, serving_client.ColorizeError) as error:
            return _report_error(args, error)

    return run


def _report_error(args, error):
    """One line for a ``grpc.RpcError`` or a ``ColorizeError`` on stderr; returns the exit status."""
    if isinstance(error, grpc.RpcError):
        print(f"{args.server}: {error.code().name}: {printable(error.details())}", file=sys.stderr)
        return 1
    print(f"colornet {args.command}: {printable(error)}", file=sys.stderr)
    return error.exit_status


def _client(args):
    return serving_client.ColorizeClient(args.server, model_name=args.model_name, version=args.version,
                                         version_label=args.version_label, timeout=args.timeout,
                                         retry_seconds=args.retry_seconds)


@_reports_client_errors
def _colorize(args):
    source = pathlib.Path(args.input)
    if args.input != "-" and not source.exists():
        print(f"No such file or folder: {printable(source)}", file=sys.stderr)
        return 2
    if source.is_dir() and args.output == "-":
        print("A folder is colorized into a folder: give -o FOLDER, not -o -", file=sys.stderr)
        return 2
    with _client(args) as client:
        if source.is_dir():
            return _colorize_folder(args, client, source)
        try:
            return _colorize_photo(args, client, source)
        except serving_client.PhotosRefused as refused:
            print(f"{'stdin' if args.input == '-' else printable(source)}: {printable(refused.reasons[0])}",
                  file=sys.stderr)
            return 1


def _colorize_folder(args, client, source):
    target = pathlib.Path(args.output or f"{source.resolve()}_colorized")
    run = serving_client.colorize_folder(client, source, target, batch_size=args.batch_size,
                                         skip_existing=args.skip_existing)
    for path, png in run.renamed.items():
        print(f"note: {printable(path)} -> {printable(png)} (another image of its folder has its stem)",
              file=sys.stderr)
    for path, error in run.refused.items():
        print(f"skipped {printable(path)}: {printable(error)}", file=sys.stderr)
    for path in run.not_done:
        print(f"not done {printable(path)}", file=sys.stderr)
    status = _report_error(args, run.stopped) if run.stopped else 0 if run.written and not run.refused else 1
    parts = [f"{len(run.refused)} refused", f"{len(run.not_done)} not done (run again with --skip-existing)",
             f"{len(run.renamed)} named <name>.png"]
    counts = [len(run.refused), len(run.not_done), len(run.renamed)]
    listed = "; ".join(part for part, count in zip(parts, counts) if count)
    others = f"; {run.others} other files left alone (no image suffix)" if run.others else ""
    print(f"Colorized {len(run.written)} images from {printable(source)} into {printable(target)}"
          + (f"; {listed} (listed above)" if listed else "") + others)
    return status


def _colorize_photo(args, client, source):
    """One photo from a file or stdin (``-``) into a file or stdout (``-``)."""
    from_stdin = args.input == "-"
    if args.output == "-" or (from_stdin and args.output is None):
        try:
            serving_client.colorize_stream(client, sys.stdin.buffer if from_stdin else source, sys.stdout.buffer)
        except serving_client.OutputNotWritable:
            # What is left in stdout's buffer cannot be written either: drop it, or Python's exit repeats the error.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise
        return 0
    target = serving_client.colorize_file(client, sys.stdin.buffer if from_stdin else source,
                                          args.output or source.with_name(f"{source.stem}_colorized.png"))
    print(f"Colorized {'stdin' if from_stdin else printable(source)} -> {printable(target)}",
          file=sys.stderr if from_stdin else sys.stdout)
    return 0


def _serving_config(args):
    from .serving_config import ServingSettings, local_server_command, write_serving_config

    settings = ServingSettings(model_name=args.model_name, version_labels=_labels(args.version_label))
    for path in write_serving_config(args.model_dir, args.output, settings):
        print(f"wrote {path}")
    compose = pathlib.Path(args.output) / "docker-compose.yml"
    print(f"Run TensorFlow Serving:  docker compose -f {compose} up")
    print(f"            or locally:  {' '.join(local_server_command(args.output, settings))}")
    return 0


@_reports_client_errors
def _model_status(args):
    with _client(args) as client:
        statuses = client.status()
    for status in statuses:
        error = f"  error: {status['error']}" if status["error"] else ""
        print(f"{args.model_name}  version {status['version']}  {status['state']}{error}")
    return 0 if any(status["state"] == "AVAILABLE" for status in statuses) else 1


def _positive(kind):
    def parse(text):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
        return value

    return parse


def _add_client_flags(parser):
    """Flags of the commands that call a server (colorize, model-status)."""
    parser.add_argument("--server", default=f"127.0.0.1:{contract.GRPC_PORT}", help="gRPC address HOST:PORT (default: %(default)s)")
    parser.add_argument("--model-name", default=contract.MODEL_NAME, help="the served model's name (default: %(default)s)")
    parser.add_argument("--timeout", type=_positive(float), default=60.0,
                        help="seconds per request (default: %(default)s)")
    parser.add_argument("--retry-seconds", type=float, default=serving_client.DEFAULT_RETRY_SECONDS,
                        help="how long to keep retrying while the server is unavailable (starting, restarting), "
                             "with exponential backoff; 0 never retries (default: %(default)s)")
    pinned = parser.add_mutually_exclusive_group()
    pinned.add_argument("--version", type=int, help="pin a model version (default: the newest served)")
    pinned.add_argument("--version-label", help="a version label the server maps to a version, e.g. stable")


def register(subparsers):
    serve = subparsers.add_parser(
        "serve", help="serve pushed models over gRPC (TF Serving's API) and REST until stopped",
        description="Serve the versions the Pusher writes over TF Serving's gRPC API (and its REST API with "
                    "--rest-port), within the request budget below.",
        epilog=_SERVE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    serve.add_argument("--model-dir", required=True, help="the Pusher's base dir: <dir>/<version>/saved_model.pb")
    serve.add_argument("--model-name", default=contract.MODEL_NAME, help="the served model's name (default: %(default)s)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s; 0.0.0.0 for all)")
    serve.add_argument("--port", type=int, default=contract.GRPC_PORT, help="gRPC port, 0 for a free one (default: %(default)s)")
    serve.add_argument("--rest-port", type=int, help="also serve TF Serving's REST API on this port")
    serve.add_argument("--poll-seconds", type=float, default=2.0, help="how often to look for new versions")
    serve.add_argument("--num-versions", type=int, default=1, help="how many of the newest versions to keep loaded")
    serve.add_argument("--version-label", action="append", type=version_label, metavar="LABEL=VERSION",
                       help="name a version (repeatable; TF Serving's version_labels): requests may ask for "
                            "/labels/LABEL (REST) or model_spec.version_label (gRPC); with labels, exactly the "
                            "labelled versions are served, and each must be loadable at start")
    serve.add_argument("--release-memory", action="store_true",
                       help="give memory back to the OS after large requests: TensorFlow's plain allocator "
                            "instead of its oneDNN pool (TF_ENABLE_ONEDNN_OPTS=0; CPU inference about 1.3-1.7x "
                            "slower, measured) and malloc_trim once idle")
    add_limit_flags(serve.add_argument_group("request budget and transport limits"))
    serve.set_defaults(func=_serve)

    colorize = subparsers.add_parser("colorize", help="colorize a photo, a folder or stdin through a running server")
    colorize.add_argument("input", help="an image file, a folder of images, or - for stdin")
    colorize.add_argument("-o", "--output",
                          help="output file (folder for a folder input; - for stdout); default: beside the input")
    _add_client_flags(colorize)
    colorize.add_argument("--batch-size", type=_positive(int), default=8,
                          help="images per request for folders; fewer when the server says its limit is lower "
                               "(default: %(default)s)")
    colorize.add_argument("--skip-existing", action="store_true",
                          help="folders: leave images whose PNG is already in the output folder alone (resumes a "
                               "run that stopped: PNGs are only ever written whole)")
    colorize.set_defaults(func=_colorize)

    config = subparsers.add_parser("serving-config",
                                   help="write TensorFlow Serving configs (models.config, docker-compose, k8s)")
    config.add_argument("--model-dir", required=True, help="the Pusher's base dir to serve")
    config.add_argument("--output", required=True, help="folder for the generated files")
    config.add_argument("--model-name", default=contract.MODEL_NAME, help="the served model's name (default: %(default)s)")
    config.add_argument("--version-label", action="append", type=version_label, metavar="LABEL=VERSION",
                        help="write TF Serving's version_labels (repeatable); the config then serves exactly the "
                             "labelled versions (a 'specific' version policy)")
    config.set_defaults(func=_serving_config)

    status = subparsers.add_parser("model-status", help="print the version states of a served model")
    _add_client_flags(status)
    status.set_defaults(func=_model_status)


def main(argv=None):
    """The serving commands alone (``python -m colornet.serving.commands``).

    Starts in seconds because it does not import the training stack (TFX, Beam): meant for
    serving containers and scripts that only serve or call a server.
    """
    import logging

    parser = argparse.ArgumentParser(prog="colornet-serving", description=__doc__)
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
