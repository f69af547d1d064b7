"""``AtomicPushExecutor``: publishes a blessed model as one atomic, never-colliding integer version.

TFX 1.16's filesystem Pusher copies files straight into ``<base>/<unix time>/`` (a server polling
the folder can find it half-written; ``saved_model.pb`` goes last, but is itself copied in place)
and silently skips a push whose version folder already exists (two pushes in one second). For a
local push directory this executor copies the model into a hidden staging folder and renames it
into place (``publish_version``), numbered by ``next_version``; for remote destinations (gs://...)
it defers to TFX's own executor. The layout is ``serving_contract``'s: ``<base>/<version>/``.

With ``custom_config={"last_blessed_uri": URI}`` (the open-source Kubeflow target), a blessed model is
also published to that fixed URI, after the push, for the next run's Importer (``last_blessed``).
"""
import logging
import os
import pathlib
import shutil
import time

from tfx.components.pusher import executor as tfx_pusher
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, json_utils, proto_utils

from . import last_blessed

LAST_BLESSED_URI_KEY = "last_blessed_uri"


def next_version(base_dir, now=None):
    """A new version number: the UNIX time, or one more than the newest version if that is later.

    Versions stay integers that TF Serving orders by age, and two pushes in the same second
    still get two versions.
    """
    existing = [int(path.name) for path in pathlib.Path(base_dir).glob("*") if path.name.isdigit()]
    return max(int(now if now is not None else time.time()), max(existing, default=0) + 1)


def publish_version(source_version_dir, base_dir, version):
    """Publishes an exported SavedModel as ``<base_dir>/<version>`` in one atomic step.

    It is copied into a hidden staging folder (servers, ours and TF Serving, only look at integer
    folder names) and renamed into place, so no server ever sees a partly copied version.
    """
    source, base = pathlib.Path(source_version_dir), pathlib.Path(base_dir)
    base.mkdir(parents=True, exist_ok=True)
    target = base / str(version)
    if target.exists():
        raise FileExistsError(f"version {version} already exists in {base}")
    staging = base / f".{version}.staging"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging)
    staging.rename(target)
    return target


def _local_base_directory(exec_properties):
    destination = pusher_pb2.PushDestination()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination)
    base = destination.filesystem.base_directory
    return base if destination.WhichOneof("destination") == "filesystem" and "://" not in base else None


def _last_blessed_uri(exec_properties):
    custom_config = json_utils.loads(exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY) or "null")
    return (custom_config or {}).get(LAST_BLESSED_URI_KEY)


class AtomicPushExecutor(tfx_pusher.Executor):
    """Pushes blessed models to a local folder, one atomic integer version each."""

    def Do(self, input_dict, output_dict, exec_properties):
        self._push(input_dict, output_dict, exec_properties)
        destination = _last_blessed_uri(exec_properties)
        if destination and self.CheckBlessing(input_dict):
            model = artifact_utils.get_single_uri(input_dict[standard_component_specs.MODEL_KEY])
            last_blessed.publish(model, destination)

    def _push(self, input_dict, output_dict, exec_properties):
        """The push to the serving folder: TFX's own for remote folders, an atomic version for local ones."""
        base_directory = _local_base_directory(exec_properties)
        if base_directory is None:
            super().Do(input_dict, output_dict, exec_properties)
            return
        model_push = artifact_utils.get_single_instance(output_dict[standard_component_specs.PUSHED_MODEL_KEY])
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(model_push)
            return
        model_path = self.GetModelPath(input_dict)
        os.makedirs(base_directory, exist_ok=True)
        version = next_version(base_directory)
        serving_path = publish_version(model_path, base_directory, version)
        logging.info("Model published as version %d at %s", version, serving_path)
        io_utils.copy_dir(model_path, model_push.uri)  # the pushed model's archive copy, as TFX keeps it
        self._MarkPushed(model_push, pushed_destination=str(serving_path), pushed_version=str(version))
