"""The components' Beam jobs on Beam's portable runner: a Job API and an external SDK worker pool
(``colornet beam-cluster``, started here on 127.0.0.1), the protocol Flink and Spark use for Python
workers. The orchestrator stays in the ``colornet run`` process; the Beam work runs in the pool's
worker processes, which the pool logs with their PIDs and CPU time when they exit."""
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import apache_beam as beam
import pytest

from apache_beam.options.pipeline_options import PipelineOptions

import local_training
from colornet.schemas.serving_contract import loadable_versions

COLORNET = str(pathlib.Path(sys.executable).parent / "colornet")
TESTS = str(pathlib.Path(__file__).parent)
READY = re.compile(r"Beam Job API on 127\.0\.0\.1:(\d+), SDK worker pool on 127\.0\.0\.1:(\d+) \(pid (\d+)")
STARTED = re.compile(r"SDK worker \S+ started: pid (\d+)")
EXITED = re.compile(r"SDK worker \S+ \(pid (\d+)\) exited with (-?\d+) after ([\d.]+) s CPU")
JOB = re.compile(r"Beam job \S+: (\d+) SDK worker\(s\)")
START_SECONDS = 300  # importing Beam on a loaded 2-core machine
STOP_SECONDS = 60


class BeamCluster:
    """``colornet beam-cluster`` as a child process; its combined output goes to ``log_path``."""

    def __init__(self, log_path, workers):
        self.log_path = log_path
        # Workers import the DoFns they run, as on any cluster: this module's too.
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [TESTS, os.environ.get("PYTHONPATH")]))}
        with open(log_path, "w") as log:
            self.process = subprocess.Popen([COLORNET, "beam-cluster", "--job-port", "0", "--worker-port", "0",
                                             "--workers", str(workers)], stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + START_SECONDS
        while not (ready := READY.search(self.log())):
            assert self.process.poll() is None, f"beam-cluster exited:\n{self.log()}"
            assert time.monotonic() < deadline, f"beam-cluster not ready after {START_SECONDS} s:\n{self.log()}"
            time.sleep(0.5)
        job_port, worker_port, self.pid = map(int, ready.groups())
        assert self.pid == self.process.pid
        self.beam_args = ["--runner=PortableRunner", f"--job_endpoint=127.0.0.1:{job_port}",
                          "--environment_type=EXTERNAL", f"--environment_config=127.0.0.1:{worker_port}"]

    def log(self):
        return pathlib.Path(self.log_path).read_text()

    def stop(self):
        """SIGTERM; returns the exit code. The pool ends the workers still running."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(STOP_SECONDS)


@pytest.fixture
def cluster(tmp_path):
    """A cluster with one SDK worker per job unless a job asks for more."""
    started = BeamCluster(tmp_path / "beam-cluster.log", workers=1)
    yield started
    if started.process.poll() is None:
        started.stop()


def _loopback(address):
    """Whether a /proc/net/tcp{,6} local address (hex, little-endian words) is 127.0.0.0/8, also as an
    IPv4-mapped IPv6 address, or ::1."""
    host = address.split(":")[0]
    if len(host) == 32 and host.startswith("0000000000000000FFFF0000"):
        host = host[24:]
    if len(host) == 8:
        return host.endswith("7F")
    return host == "00000000000000000000000001000000"


def _listening_addresses(pid):
    """Local addresses of the TCP sockets ``pid`` listens on."""
    inodes = set()
    for fd in pathlib.Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    addresses = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in pathlib.Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                addresses.append(fields[1])
    return addresses


def test_cluster_listens_on_loopback_only_and_stops_cleanly(cluster):
    addresses = _listening_addresses(cluster.pid)
    assert len(addresses) == 2, addresses  # the Job API (with artifact staging) and the worker pool
    assert all(_loopback(address) for address in addresses), addresses
    assert cluster.stop() == 0, cluster.log()


def where_it_runs(_):
    """(PID, parent PID) of the process running this DoFn, as text."""
    return f"{os.getpid()} {os.getppid()}"


def test_dofns_run_in_the_pools_worker_processes(cluster, tmp_path):
    output = tmp_path / "pids.txt"
    options = PipelineOptions([*cluster.beam_args, "--direct_num_workers=2", "--job_server_timeout=600"])
    with beam.Pipeline(options=options) as pipeline:
        (pipeline | beam.Create(range(40)) | beam.Reshuffle() | beam.Map(where_it_runs) | beam.Distinct()
         | beam.io.WriteToText(str(output), shard_name_template=""))
    where = {tuple(map(int, line.split())) for line in output.read_text().splitlines()}
    assert len(where) == 2  # the job's --direct_num_workers=2 over the cluster's default of 1
    assert {parent for _, parent in where} == {cluster.pid}
    assert os.getpid() not in {pid for pid, _ in where}
    assert JOB.findall(cluster.log()) == ["2"]
    assert cluster.stop() == 0, cluster.log()
    log = cluster.log()
    assert {int(pid) for pid in STARTED.findall(log)} == {pid for pid, _ in where}
    assert {int(pid) for pid, _, _ in EXITED.findall(log)} == {pid for pid, _ in where}  # reaped: no zombies


@pytest.mark.slow
def test_whole_pipeline_with_its_beam_work_in_the_worker_pool(cluster, tiny_photos, tmp_path):
    workdir = tmp_path / "work"
    run = subprocess.Popen(
        [COLORNET, "run", "--images", str(tiny_photos[0].parent), "--workdir", str(workdir),
         "--variant", "alpha", "--image-size", "32", "--batch-size", "4", "--epochs", "1", "--train-steps", "10",
         "--eval-steps", "1",  # the runner is under test, not the model: every gate open
         "--max-ab-mse-vs-gray", "100", "--max-ab-mse-vs-constant", "100", "--min-colorfulness-ratio", "0",
         *local_training.TINY_PHOTO_GATE_FLAGS,
         *(f"--beam-arg={arg}" for arg in cluster.beam_args)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = run.communicate(timeout=3600)
    assert run.returncode == 0, stdout + stderr
    for component in ("PhotoExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator", "Transform",
                      "latest_blessed_model_resolver", "Trainer", "Evaluator", "Pusher"):
        assert f"  {component} done" in stdout, stdout  # the local orchestrator's progress lines
    assert loadable_versions(str(workdir / "serving" / "colornet"))
    assert cluster.stop() == 0, cluster.log()

    log = cluster.log()
    # ExampleGen, StatisticsGen, Transform and Evaluator each submitted Beam jobs, one SDK worker each.
    assert len(JOB.findall(log)) >= 4 and set(JOB.findall(log)) == {"1"}, log
    started = [int(pid) for pid in STARTED.findall(log)]
    exited = {int(pid): (int(code), float(cpu)) for pid, code, cpu in EXITED.findall(log)}
    assert len(started) == len(JOB.findall(log)) and set(started) == set(exited)
    assert not {os.getpid(), run.pid} & set(started)  # neither the test nor the orchestrator ran Beam work
    assert all(cpu > 1.0 for _, cpu in exited.values()), exited
