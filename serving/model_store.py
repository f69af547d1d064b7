"""Versioned SavedModels from a model base dir, reloaded as the Pusher drops new versions.

Mirrors TF Serving's file-system source with a ``latest { num_versions: N }`` policy:

* a version is an integer sub-folder; it is loadable only once ``saved_model.pb`` exists
  (the Pusher copies that file last, so a half-written folder is skipped until complete);
* the newest N loadable versions are served; an older one is unloaded only after the
  newer one is AVAILABLE (availability-preserving), so there is never a gap;
* with version labels (TF Serving's ``version_labels``, e.g. ``stable -> 1234``), exactly the
  labelled versions are served, as TF Serving's ``specific { versions: ... }`` policy that a
  labelled model config needs; a request names a label instead of a number
  (``model_spec.version_label``, REST ``/labels/<label>``), an unknown label is INVALID_ARGUMENT
  "Unrecognized servable version label: <label>" (TF Serving's code and wording);
* each version goes START -> LOADING -> AVAILABLE -> UNLOADING -> END (or LOADING -> END
  with an error status when its load fails; a failed version is retried only once its
  saved_model.pb changes, e.g. when the poll caught it while the Pusher was writing it).

Serving a request takes a reference to one ``LoadedVersion``; the set of served versions
is swapped as a whole under a lock, so a request in flight keeps its model even if that
version is unloaded meanwhile (Python frees it once the last request drops it).
"""
import dataclasses
import logging
import pathlib
import threading
import time

import grpc
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import get_model_status_pb2

from ..schemas import serving_contract as contract
from .errors import ServingError, clipped

log = logging.getLogger(__name__)

State = get_model_status_pb2.ModelVersionStatus.State


class VersionNotFound(LookupError):
    """The requested version is not (or no longer, or not yet) served."""


@dataclasses.dataclass(frozen=True)
class LoadedVersion:
    """One served version: the loaded object and its signature metadata."""

    version: int
    path: pathlib.Path
    model: object  # what tf.saved_model.load returned
    signature_defs: dict  # name -> tensorflow.core.protobuf.meta_graph_pb2.SignatureDef

    def signature(self, name):
        """The concrete function of signature ``name``, or None."""
        return self.model.signatures.get(name)


@dataclasses.dataclass
class VersionStatus:
    version: int
    state: int
    error: str = ""


def read_signature_defs(saved_model_dir):
    """The ``serve`` MetaGraph's SignatureDefs, parsed from saved_model.pb (as TF Serving reports them)."""
    saved_model = saved_model_pb2.SavedModel.FromString(
        (pathlib.Path(saved_model_dir) / contract.SAVED_MODEL_FILE).read_bytes())
    for meta_graph in saved_model.meta_graphs:
        if contract.SERVE_TAG in meta_graph.meta_info_def.tags:
            return dict(meta_graph.signature_def)
    return dict(saved_model.meta_graphs[0].signature_def) if saved_model.meta_graphs else {}


def load_version(base_dir, version):
    import tensorflow as tf  # heavy: only when a model is actually loaded

    path = pathlib.Path(base_dir) / str(version)
    model = tf.saved_model.load(str(path), tags=[contract.SERVE_TAG])
    return LoadedVersion(version, path, model, read_signature_defs(path))


class ModelStore:
    """Keeps the latest ``num_versions`` loadable versions of one model loaded.

    Call ``poll()`` yourself, or ``start()`` a background thread that polls every
    ``poll_seconds``; ``start()`` runs the first poll synchronously so a server started
    on an existing model dir serves at once. ``warmup(loaded_version)``, when given, runs
    while the version is LOADING; if it raises, the load fails.
    """

    def __init__(self, base_dir, name=contract.MODEL_NAME, num_versions=1, poll_seconds=2.0, warmup=None,
                 version_labels=None):
        if num_versions < 1:
            raise ValueError("num_versions must be at least 1")
        self.base_dir = pathlib.Path(base_dir).absolute()  # as load errors name it (``_without_paths``)
        self.name = name
        self.num_versions = num_versions
        self.version_labels = dict(version_labels or {})  # label -> version
        self.poll_seconds = poll_seconds
        self.warmup = warmup
        self._lock = threading.Lock()
        self._served = {}  # version -> LoadedVersion; replaced wholesale, never mutated
        self._statuses = {}  # version -> VersionStatus
        self._failed = {}  # version -> saved_model.pb stamp of the failed load
        self._stop = threading.Event()
        self._thread = None

    # -- requests -------------------------------------------------------------------

    def get(self, version=None):
        """The served version ``version``, or the newest served one; raises VersionNotFound."""
        served = self._served
        if version is None:
            if not served:
                raise VersionNotFound(f"model {self.name!r} has no available version yet")
            return served[max(served)]
        try:
            return served[version]
        except KeyError:
            raise VersionNotFound(f"version {version} of model {self.name!r} is not available "
                                  f"(available: {sorted(served) or 'none'})") from None

    def statuses(self, version=None):
        """VersionStatus of every version seen (or only ``version``), newest first."""
        with self._lock:
            statuses = [dataclasses.replace(status) for status in self._statuses.values()]
        if version is not None:
            statuses = [status for status in statuses if status.version == version]
            if not statuses:
                raise VersionNotFound(f"version {version} of model {self.name!r} was never seen")
        return sorted(statuses, key=lambda status: -status.version)

    def _requested_version(self, model_spec):
        """The version number a ModelSpec names (by number or by label), or None for the newest.

        An unknown label, or a label of another model, is INVALID_ARGUMENT (TF Serving's code and wording).
        """
        if model_spec.WhichOneof("version_choice") == "version_label":
            version = self.version_labels.get(model_spec.version_label) if model_spec.name == self.name else None
            if version is None:
                raise ServingError(grpc.StatusCode.INVALID_ARGUMENT,
                                   f"Unrecognized servable version label: {clipped(model_spec.version_label)}")
            return version
        return model_spec.version.value if model_spec.HasField("version") else None

    def resolve(self, model_spec):
        """The LoadedVersion a Predict or GetModelMetadata ModelSpec asks for.

        Else ServingError with TF Serving's code and wording (``ServerCore`` and ``BasicManager``):
        INVALID_ARGUMENT "ModelSpec has no name specified.", NOT_FOUND "Servable not found for
        request: Latest(name)" or "...: Specific(name, version)", which clients waiting for a
        model to load match on.
        """
        if not model_spec.name:
            raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, "ModelSpec has no name specified.")
        version = self._requested_version(model_spec)
        if model_spec.name == self.name:
            try:
                return self.get(version)
            except VersionNotFound:
                pass
        name = clipped(model_spec.name)
        wanted = f"Latest({name})" if version is None else f"Specific({name}, {version})"
        raise ServingError(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: {wanted}")

    def version_statuses(self, model_spec):
        """The VersionStatus list GetModelStatus answers for a ModelSpec, newest first.

        TF Serving's codes and wording (``get_model_status_impl.cc``): NOT_FOUND "Could not find
        any versions of model M" or "Could not find version V of model M". A label is resolved
        to its version (TF Serving ignores it and lists every version: see the README's
        differences table).
        """
        version = self._requested_version(model_spec)
        if model_spec.name == self.name:
            try:
                statuses = self.statuses(version)
            except VersionNotFound:
                statuses = []
            if statuses:
                return statuses
        name = clipped(model_spec.name)
        raise ServingError(grpc.StatusCode.NOT_FOUND, f"Could not find any versions of model {name}"
                           if version is None else f"Could not find version {version} of model {name}")

    def check_version_labels(self):
        """Raises ServingError(FAILED_PRECONDITION) naming a label whose version is not available.

        TF Serving refuses such a model config with the same code and wording; the server calls
        this once the first poll has loaded what is on disk.
        """
        for label, version in sorted(self.version_labels.items()):
            if version not in self._served:
                raise ServingError(grpc.StatusCode.FAILED_PRECONDITION,
                                   f"Request to assign label to version {version} of model {self.name}, which is "
                                   f"not currently available for inference (label {label!r}; versions on disk: "
                                   f"{contract.loadable_versions(self.base_dir)})")

    # -- loading --------------------------------------------------------------------

    def poll(self):
        """Loads the newest wanted versions not loaded yet, then unloads those no longer wanted.

        A version whose load failed is skipped (the next older one takes its place, unless
        labels pin the versions) until its saved_model.pb changes. While no wanted version is
        available, the versions already served stay (a removed push never empties the server).
        """
        on_disk = contract.loadable_versions(self.base_dir)
        while True:  # each failed load lets the next older version in
            failed = {version for version, stamp in self._failed.items() if self._stamp(version) == stamp}
            loadable = [version for version in on_disk if version not in failed]
            if self.version_labels:
                wanted = [version for version in loadable if version in self.version_labels.values()]
            else:
                wanted = loadable[-self.num_versions:]
            missing = [version for version in wanted if version not in self._served]
            if not missing:
                break
            for version in reversed(missing):  # newest first: it is the one requests want
                self._load(version)
        if set(wanted) & set(self._served):
            for version in sorted(set(self._served) - set(wanted)):
                self._unload(version)

    def _stamp(self, version):
        """Identifies the contents of a version's saved_model.pb without reading it."""
        try:
            stat = (self.base_dir / str(version) / contract.SAVED_MODEL_FILE).stat()
        except FileNotFoundError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def _set_state(self, version, state, error=""):
        with self._lock:
            self._statuses[version] = VersionStatus(version, state, error)

    def _load(self, version):
        self._set_state(version, State.START)
        self._set_state(version, State.LOADING)
        started, stamp = time.monotonic(), self._stamp(version)
        try:
            loaded = load_version(self.base_dir, version)
            if self.warmup:
                self.warmup(loaded)
        except Exception as error:  # any failure of a user's SavedModel is reported, not raised
            log.error("model %s: failed to load version %d: %s", self.name, version, error)
            self._set_state(version, State.END, self._without_paths(f"{type(error).__name__}: {error}"))
            self._failed[version] = stamp
            return
        self._failed.pop(version, None)
        with self._lock:
            self._served = {**self._served, version: loaded}
            self._statuses[version] = VersionStatus(version, State.AVAILABLE)
        log.info("model %s: version %d available (loaded in %.1f s)", self.name, version, time.monotonic() - started)

    def _without_paths(self, text):
        """``text`` with the model dir written ``<model dir>``: a load error goes to any client (GetModelStatus)."""
        for path in sorted({str(self.base_dir), str(self.base_dir.resolve())}, key=len, reverse=True):
            text = text.replace(path, "<model dir>")
        return text

    def _unload(self, version):
        self._set_state(version, State.UNLOADING)
        with self._lock:
            self._served = {v: loaded for v, loaded in self._served.items() if v != version}
            self._statuses[version] = VersionStatus(version, State.END)
        log.info("model %s: version %d unloaded", self.name, version)

    # -- background polling ---------------------------------------------------------

    def start(self):
        self.poll()
        self._stop.clear()
        self._thread = threading.Thread(target=self._poll_forever, name=f"model-store-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _poll_forever(self):
        while not self._stop.wait(self.poll_seconds):
            try:
                self.poll()
            except Exception:  # keep watching: a transient file-system error must not end serving
                log.exception("model %s: polling %s failed", self.name, self.base_dir)
