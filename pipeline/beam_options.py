"""The Beam options of the components' Beam jobs (``PipelineConfig.beam_args``), read without Beam.

Orchestration always stays in the process that runs the pipeline; these options go to the Beam jobs
of the components that use Beam (ExampleGen, StatisticsGen, Transform, Evaluator), through
``tfx.dsl.Pipeline(beam_pipeline_args=...)``. Naming a runner (``--runner=PortableRunner``,
``FlinkRunner``, ``SparkRunner``, ``DataflowRunner``) sends those jobs elsewhere.

Portable runners (the Beam Job API: PortableRunner, and FlinkRunner/SparkRunner, which submit through
it) use ``--job_server_timeout`` (Beam's default: 60 s) as the deadline of the job's state stream, not
only of the connection: any Beam job longer than a minute then fails on the submitting side while it
goes on running on the cluster (a retried component runs it twice). ``component_beam_args`` gives them
a long deadline unless the user chose one. The same value bounds the wait for an unreachable job
server, so ``check_job_endpoint`` tries ``--job_endpoint`` first, briefly.
"""

PORTABLE_RUNNERS = ("portablerunner", "flinkrunner", "sparkrunner")
JOB_SERVER_TIMEOUT_SECONDS = 7 * 24 * 3600
ENDPOINT_CHECK_SECONDS = 15


def option_value(beam_args, name):
    """The value of ``--name`` in ``beam_args`` (``--name=value`` or ``--name value``), the last one wins."""
    value = None
    flag = f"--{name}"
    for index, arg in enumerate(beam_args):
        if arg.startswith(flag + "="):
            value = arg[len(flag) + 1:]
        elif arg == flag and index + 1 < len(beam_args):
            value = beam_args[index + 1]
    return value


def named_runner(beam_args):
    """The runner ``beam_args`` name, normalised as Beam matches it ('flinkrunner'), or None."""
    runner = option_value(beam_args, "runner")
    if not runner:
        return None
    name = runner.rsplit(".", 1)[-1].lower()
    return name if name.endswith("runner") else name + "runner"


def uses_direct_runner(beam_args):
    """Whether the components' Beam jobs run on Beam's DirectRunner (no runner named, or DirectRunner)."""
    return named_runner(beam_args) in (None, "directrunner")


def component_beam_args(beam_args):
    """``beam_args`` plus a long ``--job_server_timeout`` for portable runners that were given none."""
    beam_args = list(beam_args)
    if named_runner(beam_args) in PORTABLE_RUNNERS and option_value(beam_args, "job_server_timeout") is None:
        beam_args.append(f"--job_server_timeout={JOB_SERVER_TIMEOUT_SECONDS}")
    return beam_args


def check_job_endpoint(beam_args, timeout=ENDPOINT_CHECK_SECONDS):
    """Raises ``ConnectionError`` when ``--job_endpoint`` is given and does not answer within ``timeout``."""
    endpoint = option_value(beam_args, "job_endpoint")
    if not endpoint or endpoint == "embed":
        return
    import grpc  # only when a job endpoint is given

    channel = grpc.insecure_channel(endpoint)
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout)
    except grpc.FutureTimeoutError:
        raise ConnectionError(f"No Beam Job API answers at --job_endpoint={endpoint} (waited {timeout} s): "
                              "start the job server first (e.g. `colornet beam-cluster`) or fix the address") from None
    finally:
        channel.close()
