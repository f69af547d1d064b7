"""The gRPC message size both sides of colornet's serving agree on, importable without TensorFlow.

The client raises gRPC's 4 MB default to it (photos are large); the server sends responses up to
it (``ServingLimits.max_message_bytes``, whose default it is). The server's other limits are in
``limits.py``.
"""

DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # gRPC's own default is 4 MB
