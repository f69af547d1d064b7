"""``AtomicPusher``: TFX's Pusher component with ``AtomicPushExecutor`` as its executor.

A component class of its own (rather than ``Pusher(custom_executor_spec=...)``, which TFX 1.16
deprecates and warns about on every run), so compiled pipelines name it and its executor plainly.
"""
from tfx import v1 as tfx
from tfx.dsl.components.base import executor_spec

from .executor import AtomicPushExecutor


class AtomicPusher(tfx.components.Pusher):
    """Pushes a blessed model to ``base_directory/<version>/``, atomically (see ``executor``)."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(AtomicPushExecutor)

    def __init__(self, model, model_blessing, base_directory):
        super().__init__(
            model=model,
            model_blessing=model_blessing,
            push_destination=tfx.proto.PushDestination(
                filesystem=tfx.proto.PushDestination.Filesystem(base_directory=base_directory)))
