"""A Pusher whose versions appear atomically and never collide.

TFX 1.16's filesystem Pusher copies files straight into ``<base>/<unix time>/`` (a server
polling the folder can find it half-written; ``saved_model.pb`` goes last, but is itself copied
in place) and silently skips a push whose version folder already exists (two pushes in one
second). For a local push directory this executor publishes through
``serving.model_store.publish_version`` (staging folder + rename) with ``next_version``
numbering; for remote destinations (gs://...) it defers to TFX's own executor.
"""
import logging
import os

from tfx import v1 as tfx
from tfx.components.pusher import executor as tfx_pusher
from tfx.dsl.components.base import executor_spec
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, proto_utils

from colornet.serving.model_store import next_version, publish_version


def _local_base_directory(exec_properties):
    destination = pusher_pb2.PushDestination()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination)
    base = destination.filesystem.base_directory
    return base if destination.WhichOneof("destination") == "filesystem" and "://" not in base else None


class AtomicPushExecutor(tfx_pusher.Executor):
    """Pushes blessed models to a local folder, one atomic integer version each."""

    def Do(self, input_dict, output_dict, exec_properties):
        base_directory = _local_base_directory(exec_properties)
        if base_directory is None:
            return super().Do(input_dict, output_dict, exec_properties)
        model_push = artifact_utils.get_single_instance(output_dict[standard_component_specs.PUSHED_MODEL_KEY])
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(model_push)
            return None
        model_path = self.GetModelPath(input_dict)
        os.makedirs(base_directory, exist_ok=True)
        version = next_version(base_directory)
        serving_path = publish_version(model_path, base_directory, version)
        logging.info("Model published as version %d at %s", version, serving_path)
        io_utils.copy_dir(model_path, model_push.uri)  # the pushed model's archive copy, as TFX keeps it
        self._MarkPushed(model_push, pushed_destination=str(serving_path), pushed_version=str(version))
        return None


def atomic_pusher(model, model_blessing, base_directory):
    """A Pusher component that publishes with ``AtomicPushExecutor``."""
    return tfx.components.Pusher(
        model=model,
        model_blessing=model_blessing,
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=base_directory)),
        custom_executor_spec=executor_spec.ExecutorClassSpec(AtomicPushExecutor),
    )
