"""Latency of one photo through ``serving_default``, end to end over gRPC, per profile, and where it goes.

    .venv/bin/python benchmarks/serve_latency.py [--profiles full cpu demo] [--requests 15]
        [--big-requests 3] [--workdir DIR] [--name serve_latency]

For each profile (``schemas/config.py``): the Transform graph (colornet's ``preprocessing_fn``
on two photos) and the profile's untrained model (classifier weights None: the timing does not
depend on the weights) exported by ``export.export_serving_model`` as the Trainer exports it, then
served by colornet's gRPC server on 127.0.0.1 in this process. One client sends one photo per
request, one request at a time (after warm-up requests):

  1024x768  a photo-like JPEG (``serve.photo_jpeg``: gradients plus noise, so that the JPEG and
            PNG sizes are realistic or worse), ``--requests`` requests: p50 / p90 wall seconds
  4000x3000 the same at 12 MP, ``--big-requests`` requests

``cpu_seconds_per_request`` is this process's CPU time (server and client) per request: on a shared
machine wall time depends on the other load, CPU time much less; ``quiet_2_core_estimate_s`` is
that CPU time over 2 cores, what a request would take on 2 idle cores if both were kept busy.

Where the time goes: TensorFlow's profiler traces ``--profiled-calls`` direct calls of the
signature per size, and each op's time is added to its group (by op type and name scope):
decode (the photo, once: ``signatures.decode_photos``, whose pixels give the model-size Lab, the
classifier's input when one is fused, and the full-resolution L), model-size Lab (resize, Lab, quantize
and dequantize), classifier (the ImageNet network: Transform's, fused, or ``lite0_unet``'s encoder), network (the rest of the colorizer), full-resolution color (L of
the photo, ab stretched to its size, Lab -> RGB), PNG encode, other. Op times are busy times of
kernels, which may overlap on several threads: compare them as shares. Writes
``benchmarks/results/<name>.json``.
"""
import argparse
import collections
import glob
import os
import pathlib
import statistics
import tempfile
import time

import common
from colornet.schemas.config import PROFILES

SIZES = {"1024x768": (1024, 768), "4000x3000": (4000, 3000)}
PHOTO_DECODE_OPS = {"DecodeImage", "DecodeJpeg", "DecodePng", "DecodeBmp", "DecodeGif"}  # each decodes a whole photo
DECODE_OPS = PHOTO_DECODE_OPS | {"ExtractJpegShape"}
CALL_OPS = {"StatefulPartitionedCall", "PartitionedCall", "While", "StatelessWhile", "If", "StatelessIf", "Case"}
CLASSIFIER_SCOPES = ("inception_resnet_v2/", "mobilenetv2_", "efficientnet_lite0")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profiles", nargs="+", default=["full", "cpu", "demo"], choices=sorted(PROFILES))
    parser.add_argument("--requests", type=int, default=15)
    parser.add_argument("--big-requests", type=int, default=3)
    parser.add_argument("--profiled-calls", type=int, default=3)
    parser.add_argument("--workdir", default=None, help="exported models are reused from here")
    parser.add_argument("--name", default="serve_latency", help="results file name")
    return parser.parse_args()


def exported_model(profile, workdir):
    """The profile's untrained model with a real Transform graph, exported once into ``workdir``."""
    from export_fixtures import training_photos, write_transform_output

    from colornet.components.model import export, network
    from colornet.schemas.config import pipeline_config

    export_dir = pathlib.Path(workdir) / profile / "model"
    if not (export_dir / "saved_model.pb").exists():
        config = pipeline_config(profile, "unused", "unused").model
        print(f"exporting the {profile} model ({config.to_dict()})", flush=True)
        tft_output = write_transform_output(pathlib.Path(workdir) / profile / "transform_graph",
                                            training_photos(common.SHARED_DATA), config.to_dict())
        model = network.compile_model(network.build_model(config), config)
        export.export_serving_model(model, tft_output, config.image_size, str(export_dir))
    return export_dir


def op_group(name, op_type):
    if op_type in DECODE_OPS:
        return "decode"
    if any(scope in name for scope in CLASSIFIER_SCOPES):  # fused in Transform, or lite0_unet's encoder
        return "classifier"
    if "model_size_lab/" in name:
        return "model_size_lab"
    if "/colornet_" in name:
        return "network"
    if op_type == "EncodePng":
        return "png_encode"
    if "/while/" in name:
        return "full_res_color"
    return "other"


def op_milliseconds(trace_dir, calls):
    """Milliseconds per call of each op group, from the profiler's trace (leaf TensorFlow ops only), and
    ``decodes``: how many whole-photo decode ops ran per call."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    space.ParseFromString(pathlib.Path(sorted(glob.glob(f"{trace_dir}/**/*.xplane.pb", recursive=True))[-1]).read_bytes())
    groups, decodes = collections.Counter(), 0
    for plane in space.planes:
        if plane.name != "/host:CPU":
            continue
        for line in plane.lines:
            for event in line.events:
                # TensorFlow op events are named "<scope>/<op name>:<op type>"; the rest are runtime events.
                name, _, op_type = plane.event_metadata[event.metadata_id].name.rpartition(":")
                if not name or name.endswith(":") or " " in name or not op_type.isidentifier() or op_type in CALL_OPS:
                    continue
                op_type = op_type.removeprefix("_Mkl").removeprefix("Native")
                groups[op_group(name, op_type)] += event.duration_ps
                decodes += op_type in PHOTO_DECODE_OPS
    return {**{group: round(picoseconds / 1e9 / calls, 1) for group, picoseconds in groups.most_common()},
            "decodes": decodes / calls}


def profile_ops(signature, image, calls, trace_dir):
    import tensorflow as tf

    batch = tf.constant([image])
    signature(images=batch)
    tf.profiler.experimental.start(str(trace_dir))
    try:
        for _ in range(calls):
            signature(images=batch)
    finally:
        tf.profiler.experimental.stop()
    return op_milliseconds(trace_dir, calls)


def latencies(client, image, requests, warmup):
    for _ in range(warmup):
        client.colorize([image])
    walls, cpu = [], time.process_time()
    for _ in range(requests):
        started = time.perf_counter()
        client.colorize([image])
        walls.append(time.perf_counter() - started)
    cpu_per_request = (time.process_time() - cpu) / requests
    walls.sort()
    return {"requests": requests, "p50_s": round(statistics.median(walls), 3),
            "p90_s": round(walls[min(len(walls) - 1, int(0.9 * len(walls)))], 3), "min_s": round(walls[0], 3),
            "cpu_seconds_per_request": round(cpu_per_request, 3),
            "quiet_2_core_estimate_s": round(cpu_per_request / 2, 3), "loadavg": list(os.getloadavg())}


def main():
    args = parse_args()
    workdir = args.workdir or tempfile.mkdtemp(prefix="colornet-serve-latency-")
    print(f"work directory: {workdir}", flush=True)
    import tensorflow as tf

    from colornet.components.pusher.executor import publish_version
    from colornet.serving.client import ColorizeClient
    from colornet.serving.server import start_server
    from serve import photo_jpeg

    images = {label: photo_jpeg(*size) for label, size in SIZES.items()}
    results = {}
    for profile in args.profiles:
        export_dir = exported_model(profile, workdir)
        push_dir = pathlib.Path(tempfile.mkdtemp(prefix=f"push-{profile}-", dir=workdir))
        publish_version(export_dir, push_dir, 1)
        figures = {}
        with start_server(push_dir, port=0, poll_seconds=60) as server, \
                ColorizeClient(f"127.0.0.1:{server.port}", timeout=600) as client:
            signature = tf.saved_model.load(str(push_dir / "1")).signatures["serving_default"]
            for label, image in images.items():
                big = label == "4000x3000"
                figures[label] = {"jpeg_bytes": len(image),
                                  **latencies(client, image, args.big_requests if big else args.requests, 1 if big else 2)}
                figures[label]["op_ms_per_call"] = profile_ops(
                    signature, image, 1 if big else args.profiled_calls, pathlib.Path(workdir) / "traces" / profile / label)
                print(f"{profile:9s} {label:9s} p50 {figures[label]['p50_s']:.3f} s  p90 {figures[label]['p90_s']:.3f} s  "
                      f"CPU {figures[label]['cpu_seconds_per_request']:.3f} s/request  load {os.getloadavg()[0]:.1f}\n"
                      f"          ops (ms per call): {figures[label]['op_ms_per_call']}", flush=True)
        results[profile] = figures
    path = common.write_json(args.name, {**common.machine(), "profiles": results, "loadavg_end": os.getloadavg()})
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
