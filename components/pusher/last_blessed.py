"""The last blessed model, kept at one fixed URI for orchestrators that cannot run resolvers.

Under ``LocalDagRunner`` and on Vertex AI, a ``LatestBlessedModel`` resolver finds the last blessed
model in ML Metadata. The open-source Kubeflow Pipelines backend cannot run resolvers (its Argo
compiler: "resolver executors not implemented"), so for that target the Pusher also publishes every
blessed model here, and an Importer reads this URI as the Trainer's warm start and the Evaluator's
baseline. The URI must exist before anything is blessed: the first run imports an empty location.

Layout: the Trainer's whole Model artifact (``Format-Serving/`` with the SavedModel, and
``keras_weights.h5`` for warm starts), so that the URI imports as a Model artifact.
``Format-Serving/saved_model.pb`` marks a complete copy: ``publish`` removes it first and writes it
last, on local disks and object stores alike (gs:// has no atomic rename). Three states follow:

* absent: nothing published yet (the first run): no baseline, training from scratch;
* complete: the marker is there;
* incomplete: files but no marker, i.e. a publish was interrupted. The Evaluator refuses it
  rather than blessing without a baseline (see ``components/evaluation/component.py``).

Runs that share the URI must not overlap (a KFP recurring run's ``max_concurrency=1``).
"""
import logging
import os
import re
import time

from tfx.dsl.io import fileio
from tfx.utils import io_utils, path_constants

ABSENT, COMPLETE, INCOMPLETE = "absent", "complete", "incomplete"
_SAVED_MODEL = "saved_model.pb"


def _marker(model_uri):
    """The SavedModel's graph file in a Model artifact (TFX's current layout: ``Format-Serving/``)."""
    return os.path.join(model_uri, path_constants.SERVING_MODEL_DIR, _SAVED_MODEL)


def state(uri):
    """``ABSENT``, ``COMPLETE`` or ``INCOMPLETE`` (see the module docstring)."""
    if fileio.exists(_marker(uri)):
        return COMPLETE
    if fileio.exists(uri) and fileio.listdir(uri):
        return INCOMPLETE
    return ABSENT


def publish(model_uri, destination):
    """Replaces the model at ``destination`` with the Model artifact at ``model_uri``.

    Readers see the old model, then nothing complete (no marker), then the new one: never a mix.
    """
    started = time.monotonic()
    if fileio.exists(_marker(destination)):
        fileio.remove(_marker(destination))
    # copy_dir matches patterns against each source file's full path.
    marker_pattern = "^{}/+{}/+{}$".format(*map(re.escape, (model_uri.rstrip("/"), path_constants.SERVING_MODEL_DIR,
                                                           _SAVED_MODEL)))
    io_utils.copy_dir(model_uri, destination, deny_regex_patterns=[marker_pattern])  # clears destination first
    io_utils.copy_file(_marker(model_uri), _marker(destination), overwrite=True)
    logging.info("Published %s as the last blessed model at %s (%.1f s)", model_uri, destination,
                 time.monotonic() - started)
