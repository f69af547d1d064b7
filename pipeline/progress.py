"""One line per component while a pipeline runs, without TFX's INFO flood.

TFX's runners log "Component X is running." / "... is finished." (and "A cached execution
... is used." for cache hits) at INFO through absl's logger. ``component_progress`` lets only
those through as short lines with timings, and passes absl's WARNING and above on as before.
Beam's local job service re-logs every worker's start-up warnings (dozens per Beam job); in this
quiet mode only Beam's errors show. ``colornet -v`` shows everything.
"""
import contextlib
import logging
import re
import sys
import time

from absl import logging as absl_logging

_RUNNING = re.compile(r"Component (\S+) is running")
_FINISHED = re.compile(r"Component (\S+) is finished")
_CACHED = re.compile(r"A cached execution \d+ is used")


class _ProgressHandler(logging.Handler):
    def __init__(self, stream):
        super().__init__(logging.INFO)
        self.stream = stream
        self.started = {}
        self.cached = set()

    def emit(self, record):
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            logging.getLogger().handle(record)
        elif match := _RUNNING.search(message):
            self.started[match.group(1)] = time.monotonic()
            print(f"  {match.group(1)} ...", file=self.stream, flush=True)
        elif _CACHED.search(message):
            self.cached.update(self.started)
        elif match := _FINISHED.search(message):
            name = match.group(1)
            seconds = time.monotonic() - self.started.pop(name, time.monotonic())
            note = "cached" if name in self.cached else f"{seconds:.0f} s"
            self.cached.discard(name)
            print(f"  {name} done ({note})", file=self.stream, flush=True)


@contextlib.contextmanager
def component_progress(stream=sys.stdout):
    """Within the block, TFX's component start/finish lines go to ``stream``; other INFO is dropped.

    Does nothing when INFO logging is already on (``colornet -v``): the full log shows it all.
    """
    absl_logger = logging.getLogger("absl")
    if logging.getLogger().isEnabledFor(logging.INFO):
        yield
        return
    beam_logger = logging.getLogger("apache_beam")
    handler = _ProgressHandler(stream)
    saved = absl_logging.get_verbosity(), absl_logger.propagate, beam_logger.level
    # Through absl's verbosity flag, not Logger.setLevel: TensorFlow re-applies that flag to the
    # absl logger (e.g. when it saves a model), which would silently undo a plain setLevel.
    absl_logging.set_verbosity(absl_logging.INFO)
    absl_logger.propagate = False
    absl_logger.addHandler(handler)
    beam_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        absl_logger.removeHandler(handler)
        absl_logging.set_verbosity(saved[0])
        absl_logger.propagate = saved[1]
        beam_logger.setLevel(saved[2])
