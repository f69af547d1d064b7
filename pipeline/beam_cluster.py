"""``colornet beam-cluster``: a Beam Job API and an SDK worker pool on this machine, loopback only.

The portable runner's protocol without a cluster: the components submit their Beam jobs to the Job
API (``--runner=PortableRunner --job_endpoint=...``), which asks the worker pool
(``--environment_type=EXTERNAL --environment_config=...``) for SDK worker processes, and the work
runs in those processes. Flink and Spark start Python workers the same way (a worker-pool sidecar
beside each TaskManager), so this is the way to check a pipeline against that protocol before a
cluster. Ctrl-C or SIGTERM stops both servers and their workers.

Beam 2.60's own entry points (``local_job_service_main``, ``worker_pool_main``) are wrapped because:
* every gRPC server they create binds all interfaces (``[::]``): here each binds 127.0.0.1;
* the job service runs every job on one SDK worker (``FnApiRunner.run_via_runner_api`` never reads
  ``--direct_num_workers``): here a job gets its ``--direct_num_workers``, else ``--workers``;
* the pool starts ``python`` from PATH (maybe not this environment's), pipes the workers' stdout
  without reading it, and never waits for them (the job service never sends StopWorker: one zombie
  per job): here workers run this interpreter, write to this process's stdout and are reaped, and
  each one's PID and CPU time is logged when it exits.
"""
import logging
import os
import signal
import subprocess
import sys
import threading
import time

import grpc
from apache_beam.options import pipeline_options
from apache_beam.portability.api import beam_fn_api_pb2, beam_fn_api_pb2_grpc
from apache_beam.runners.portability import local_job_service
from apache_beam.runners.portability.fn_api_runner import fn_runner
from apache_beam.runners.worker import worker_pool_main
from apache_beam.utils import thread_pool_executor

from ..schemas.config import ConfigError

LOOPBACK = "127.0.0.1"
_REAP_SECONDS = 1.0
_STOP_SECONDS = 10.0

log = logging.getLogger("colornet.beam_cluster")


def _bind_loopback_only():
    """Makes every gRPC server this process creates listen on 127.0.0.1, whatever address Beam asks for."""
    create_server = grpc.server

    def loopback_server(*args, **kwargs):
        server = create_server(*args, **kwargs)
        add_port = server.add_insecure_port
        server.add_insecure_port = lambda address: add_port(f"{LOOPBACK}:{address.rpartition(':')[2]}")
        return server

    grpc.server = loopback_server


class _Job(local_job_service.BeamJob):
    """A Beam job run by the FnApiRunner on ``direct_num_workers`` SDK workers (else the server's count)."""

    default_workers = 1

    def _invoke_runner(self):
        self.set_state(local_job_service.beam_job_api_pb2.JobState.RUNNING)
        options = self.pipeline_options()
        # Options arrive as a Struct of strings, Beam's defaults included: '1' when the job did not choose.
        requested = int(options.view_as(pipeline_options.DirectOptions).direct_num_workers or 1)
        runner = fn_runner.FnApiRunner(provision_info=self._provision_info)
        # Read only by FnApiRunner.run_pipeline, which the job service does not call (see the module docstring).
        runner._num_workers = {0: os.cpu_count(), 1: self.default_workers}.get(requested, requested)
        log.info("Beam job %s: %d SDK worker(s)", self._job_id, runner._num_workers)
        return runner.run_via_runner_api(self._pipeline_proto, options)


class _JobService(local_job_service.LocalJobServicer):
    def get_service_address(self):
        return LOOPBACK


class _WorkerPool(worker_pool_main.BeamFnExternalWorkerPoolServicer):
    """SDK workers as child processes of this interpreter, reaped when they exit.

    Children are tracked by PID: each job numbers its workers from worker_0 again.
    """

    def __init__(self):
        super().__init__(use_process=True)
        self._children = {}  # pid -> (worker id, Popen)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._reaper = threading.Thread(target=self._reap, name="reap-sdk-workers", daemon=True)
        self._reaper.start()

    def StartWorker(self, request, context):
        command = [sys.executable, "-c",
                   "from apache_beam.runners.worker.sdk_worker import SdkHarness; "
                   f"SdkHarness({request.control_endpoint.url!r}, worker_id={request.worker_id!r}).run()"]
        try:
            process = subprocess.Popen(command, close_fds=True)
        except OSError as error:
            return beam_fn_api_pb2.StartWorkerResponse(error=f"cannot start an SDK worker: {error}")
        with self._lock:
            self._children[process.pid] = (request.worker_id, process)
        log.info("SDK worker %s started: pid %d", request.worker_id, process.pid)
        return beam_fn_api_pb2.StartWorkerResponse()

    def StopWorker(self, request, context):
        """Java job servers (Flink, Spark) send it; Beam's Python job service never does."""
        with self._lock:
            for pid, (worker_id, _) in self._children.items():
                if worker_id == request.worker_id:
                    os.kill(pid, signal.SIGTERM)  # reaped by _reap_exited
        return beam_fn_api_pb2.StopWorkerResponse()

    def _reap_exited(self, block=False):
        """Waits for exited children (for all of them with ``block``), logging each one's exit and CPU time;
        returns how many are still running. Under the lock, so that no PID is signalled once reaped."""
        with self._lock:
            for pid, (worker_id, process) in list(self._children.items()):
                reaped, status, usage = os.wait4(pid, 0 if block else os.WNOHANG)
                if not reaped:
                    continue
                process.returncode = os.waitstatus_to_exitcode(status)  # so Popen never waits for it again
                del self._children[pid]
                log.info("SDK worker %s (pid %d) exited with %d after %.1f s CPU", worker_id, pid,
                         process.returncode, usage.ru_utime + usage.ru_stime)
            return len(self._children)

    def _reap(self):
        while not self._stopping.wait(_REAP_SECONDS):
            self._reap_exited()

    def _signal_children(self, signal_number):
        # os.kill, not Popen.send_signal: that one polls first, reaping the child behind _reap_exited's back.
        with self._lock:
            for pid in self._children:
                os.kill(pid, signal_number)

    def stop(self):
        """Stops reaping and ends the workers still running: SIGTERM, then SIGKILL after a grace period."""
        self._stopping.set()
        self._reaper.join()
        self._signal_children(signal.SIGTERM)
        deadline = time.monotonic() + _STOP_SECONDS
        while self._reap_exited() and time.monotonic() < deadline:
            time.sleep(0.1)
        self._signal_children(signal.SIGKILL)
        self._reap_exited(block=True)


def serve(job_port, worker_port, workers):
    """Runs both servers until SIGTERM or SIGINT; returns 0."""
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    logging.getLogger().setLevel(logging.INFO)  # the servers' lines are this command's output
    _bind_loopback_only()
    _Job.default_workers = workers
    job_service = _JobService(beam_job_type=_Job)
    job_port = job_service.start_grpc_server(job_port)
    pool_server = grpc.server(thread_pool_executor.shared_unbounded_instance())
    worker_port = pool_server.add_insecure_port(f"{LOOPBACK}:{worker_port}")
    pool = _WorkerPool()
    beam_fn_api_pb2_grpc.add_BeamFnExternalWorkerPoolServicer_to_server(pool, pool_server)
    pool_server.start()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"Beam Job API on {LOOPBACK}:{job_port}, SDK worker pool on {LOOPBACK}:{worker_port} (pid {os.getpid()}, "
          f"{workers} worker(s) per job). Run the pipeline with:\n"
          f"  --beam-arg=--runner=PortableRunner --beam-arg=--job_endpoint={LOOPBACK}:{job_port} "
          f"--beam-arg=--environment_type=EXTERNAL --beam-arg=--environment_config={LOOPBACK}:{worker_port}\n"
          "Ctrl-C stops it.", flush=True)
    stop.wait()
    log.info("Stopping the Beam Job API and the SDK worker pool")
    pool_server.stop(grace=None)
    pool.stop()
    job_service.stop()
    return 0
