"""The one exception the serving code raises for a request it cannot serve, transport-neutral."""

# What a refusal may repeat of the request: a name or label is shown up to ECHO_BYTES, a whole
# message up to MESSAGE_BYTES (UTF-8). gRPC carries the message in a trailer, whose size gRPC
# limits (8 KiB by default, non-ASCII bytes percent-encoded to 3): a request naming a 1 MiB model
# must get its NOT_FOUND, not a RESOURCE_EXHAUSTED from an echo that no longer fits.
ECHO_BYTES = 128
MESSAGE_BYTES = 2048


def clipped(text, limit=ECHO_BYTES):
    """``text`` when its UTF-8 form fits in ``limit`` bytes, else its start and how long it was."""
    data = str(text).encode("utf-8", "backslashreplace")  # a lone surrogate from JSON is shown escaped
    if len(data) <= limit:
        return str(text)
    return data[:limit].decode("utf-8", "ignore") + f"... ({len(data)} bytes)"


class ServingError(Exception):
    """A request that cannot be served: ``code`` is the ``grpc.StatusCode`` to answer (the REST side
    maps it to TF Serving's HTTP status), ``message`` what the client should read (clipped to
    ``MESSAGE_BYTES``). A message never names server-side paths or hosts: it goes to anyone."""

    def __init__(self, code, message):
        message = clipped(message, MESSAGE_BYTES)
        super().__init__(message)
        self.code = code
        self.message = message


# The answer to a failure of the server itself (its details go to the server's log only).
INTERNAL_ERROR = "internal error of the server (logged there)"
