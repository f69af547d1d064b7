"""How long the client takes from process start to a colorized PNG on disk, against a warm server.

Starts the embedded gRPC server on 127.0.0.1 in this process with a stand-in model
(``tests/stand_in_model.py``), warms it, then times, each ``--repeats`` times:

- ``colornet colorize one.jpg -o out.png``: process start to PNG written (the file's mtime) and
  to process exit, with the child's CPU seconds;
- ``colornet colorize FOLDER -o OUT`` on a folder of ``--folder-photos`` photos;
- ``python -c "import colornet.serving.client"``, and whether that import loaded TensorFlow.

Start-up is what a one-photo call costs on a warm server, so these figures are mostly the
client's imports. Photos are BSDS500's (481x321 JPEGs) from ``../shared/data``. The machine's
core count and load average are recorded beside every figure: compare figures within one run.

    .venv/bin/python benchmarks/client_startup.py [--repeats 5] [--folder-photos 50]
"""
import argparse
import os
import pathlib
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import common
from colornet.serving.client import ColorizeClient
from colornet.serving.server import start_server
from stand_in_model import RED, write_tint_model

BIN = pathlib.Path(sys.executable).parent
PHOTOS = common.SHARED_DATA / "bsds500"


def machine():
    return {"nproc": os.cpu_count(), "loadavg": [round(value, 2) for value in os.getloadavg()]}


def children_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_run(command, written):
    """Runs ``command``; returns (seconds to the newest file in ``written`` (a file or folder), seconds to exit,
    child CPU seconds). Raises if the command fails or writes nothing."""
    cpu_before = children_cpu_seconds()
    started_ns = time.time_ns()
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    exited_ns = time.time_ns()
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, command))} exited {result.returncode}: {result.stderr[-2000:]}")
    files = [written] if written.is_file() else list(written.rglob("*.png"))
    if not files:
        raise RuntimeError(f"{command} wrote nothing at {written}")
    last_write_ns = max(path.stat().st_mtime_ns for path in files)
    return ((last_write_ns - started_ns) / 1e9, (exited_ns - started_ns) / 1e9,
            children_cpu_seconds() - cpu_before)


def summary(runs, names=("to_png_s", "to_exit_s", "cpu_s")):
    columns = list(zip(*runs))
    result = {}
    for name, values in zip(names, columns):
        result[f"{name}_median"] = round(statistics.median(values), 3)
        result[f"{name}_min"] = round(min(values), 3)
    result["runs"] = [dict(zip(names, (round(value, 3) for value in run))) for run in runs]
    return result


def bench_one_photo(target, photo, work, repeats):
    runs = []
    for attempt in range(repeats):
        output = work / f"one-{attempt}.png"
        runs.append(timed_run([BIN / "colornet", "colorize", "--server", target, photo, "-o", output], output))
    return {"machine_before": machine(), **summary(runs)}


def bench_folder(target, folder, work, repeats):
    runs = []
    for attempt in range(repeats):
        output = work / f"folder-{attempt}"
        runs.append(timed_run([BIN / "colornet", "colorize", "--server", target, folder, "-o", output], output))
        count = len(list(output.rglob("*.png")))
        if count != len(list(folder.iterdir())):
            raise RuntimeError(f"folder run wrote {count} PNGs")
    return {"photos": len(list(folder.iterdir())), "machine_before": machine(), **summary(runs)}


def bench_import(repeats):
    """Seconds for a bare ``import colornet.serving.client`` process, and whether it loaded TensorFlow."""
    probe = ("import sys, colornet.serving.client; "
             "print(sorted(m for m in ('tensorflow', 'tensorflow_serving') if m in sys.modules))")
    seconds, loaded = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=600, check=True)
        seconds.append(time.perf_counter() - started)
        loaded = result.stdout.strip()
    return {"machine_before": machine(), "seconds_median": round(statistics.median(seconds), 3),
            "seconds_min": round(min(seconds), 3), "heavy_modules_loaded": loaded}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--folder-photos", type=int, default=50)
    parser.add_argument("--json", default="client_startup", help="name of the results file in benchmarks/results/")
    args = parser.parse_args(argv)

    sources = sorted((PHOTOS / "train").glob("*.jpg"))[:args.folder_photos]
    if len(sources) < args.folder_photos:
        parser.error(f"need {args.folder_photos} photos under {PHOTOS / 'train'}, found {len(sources)}")
    with tempfile.TemporaryDirectory() as temp:
        work = pathlib.Path(temp)
        folder = work / "photos"
        folder.mkdir()
        for source in sources:
            shutil.copy(source, folder / source.name)
        write_tint_model(work / "models", 1, RED)
        server = start_server(work / "models", host="127.0.0.1", port=0)
        target = f"127.0.0.1:{server.port}"
        try:
            with ColorizeClient(target) as client:  # warm the server: the first calls of a loaded function are slower
                for _ in range(3):
                    client.colorize([sources[0].read_bytes()])
            result = {
                "machine": machine(),
                "one_photo": bench_one_photo(target, sources[0], work, args.repeats),
                "folder": bench_folder(target, folder, work, args.repeats),
                "import_client": bench_import(args.repeats),
            }
        finally:
            server.stop()
    result["machine_after"] = machine()
    one, many, imported = result["one_photo"], result["folder"], result["import_client"]
    print(f"nproc {result['machine']['nproc']}, load {result['machine']['loadavg']} -> "
          f"{result['machine_after']['loadavg']}")
    print(f"colorize one photo:      {one['to_png_s_median']:.2f} s to PNG (min {one['to_png_s_min']:.2f}), "
          f"{one['cpu_s_median']:.2f} CPU-s, median of {args.repeats}")
    print(f"colorize {many['photos']} photos:      {many['to_png_s_median']:.2f} s to last PNG "
          f"(min {many['to_png_s_min']:.2f}), {many['cpu_s_median']:.2f} CPU-s")
    print(f"import client:           {imported['seconds_median']:.2f} s (min {imported['seconds_min']:.2f}), "
          f"heavy modules loaded: {imported['heavy_modules_loaded']}")
    print(f"wrote {common.write_json(args.json, result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
