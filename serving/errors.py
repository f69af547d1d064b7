"""The one exception the serving code raises for a request it cannot serve, transport-neutral."""


class ServingError(Exception):
    """A request that cannot be served: ``code`` is the ``grpc.StatusCode`` to answer (the REST side
    maps it to TF Serving's HTTP status), ``message`` what the client should read."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message
