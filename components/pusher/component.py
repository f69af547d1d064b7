"""``AtomicPusher``: TFX's Pusher component with ``AtomicPushExecutor`` as its executor.

A component class of its own (rather than ``Pusher(custom_executor_spec=...)``, which TFX 1.16
deprecates and warns about on every run), so compiled pipelines name it and its executor plainly.
"""
from tfx import v1 as tfx
from tfx.dsl.components.base import executor_spec

from .executor import LAST_BLESSED_URI_KEY, AtomicPushExecutor


class AtomicPusher(tfx.components.Pusher):
    """Pushes a blessed model to ``base_directory/<version>/``, atomically (see ``executor``).

    With ``last_blessed_uri``, each blessed model is also published there (``last_blessed``): the
    resolver-free way to find the last blessed model, for the open-source Kubeflow target.
    """

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(AtomicPushExecutor)

    def __init__(self, model, model_blessing, base_directory, last_blessed_uri=None):
        super().__init__(
            model=model,
            model_blessing=model_blessing,
            push_destination=tfx.proto.PushDestination(
                filesystem=tfx.proto.PushDestination.Filesystem(base_directory=base_directory)),
            custom_config={LAST_BLESSED_URI_KEY: last_blessed_uri} if last_blessed_uri else None)
