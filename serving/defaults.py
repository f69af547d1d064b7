"""The server's request limits, importable without TensorFlow (the CLI builds its flags from them)."""

DEFAULT_MAX_REQUEST_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # gRPC's own default is 4 MB
DEFAULT_MAX_PIXELS = 50_000_000  # e.g. 8660 x 5773; colorizing decodes the full-resolution image
