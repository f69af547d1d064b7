"""A TF Serving-compatible server for the versioned SavedModels the Pusher writes: gRPC, and REST beside it.

Implements ``tensorflow.serving.PredictionService`` (Predict, GetModelMetadata) and
``tensorflow.serving.ModelService`` (GetModelStatus), so TF Serving's clients work unchanged;
Classify, Regress and MultiInference are refused as TF Serving refuses them for a model without
such signatures (INVALID_ARGUMENT), HandleReloadConfigRequest answers UNIMPLEMENTED. A request
message that does not parse is INVALID_ARGUMENT (``_UnaryCalls`` parses it).

Both protocols run on one asyncio event loop in a background thread (``grpc.aio`` and
``http_server``): a connection that sends slowly, or never finishes its request, costs a
coroutine, not a thread. The blocking work (checking, decoding, TensorFlow) runs on a pool of
``ServingLimits.workers`` threads, and every request is admitted by ``Admission`` first
(``admission.py``); a unary gRPC call must deliver its message within the read timeout, as a REST
request must (``http_server``), and is priced as parsed before it is parsed (``_UnaryCalls``).
``start_server`` runs it in-process; ``serve`` blocks until SIGTERM/SIGINT.
"""
import asyncio
import concurrent.futures
import dataclasses
import functools
import logging
import signal
import threading

import grpc
from google.protobuf.message import DecodeError
from tensorflow_serving.apis import (model_service_pb2, model_service_pb2_grpc, prediction_service_pb2,
                                     prediction_service_pb2_grpc)

from ..schemas import serving_contract as contract
from .admission import Admission
from .errors import INTERNAL_ERROR, ServingError
from .limits import MiB, ServingLimits, request_too_large_message
from .message_cost import MalformedMessage, OverBudget, parsed_cost
from .model_store import ModelStore
from .service import Service, model_spec_of
from .warmup import replay_warmup_requests

log = logging.getLogger(__name__)

# "/package.Service/Method" -> the descriptor of its request message, for every method served.
_REQUEST_TYPES = {f"/{service.full_name}/{method.name}": method.input_type
                  for module in (prediction_service_pb2, model_service_pb2)
                  for service in module.DESCRIPTOR.services_by_name.values() for method in service.methods}


def _answer_error(context, error):
    """Ends the call with a ServingError's status, set on the context rather than raised with
    ``context.abort``: grpc.aio keeps the AbortError on the call's (Cython, uncollectable) state,
    and the error's traceback holds every frame of the call, the parsed request with them, so each
    refused call kept its request's memory for good (a 2 MB message of a million empty strings:
    +76 MB per call, measured)."""
    context.set_code(error.code)
    context.set_details(error.message)
    return None  # grpc.aio sends no message with a non-OK status


def _serving(method):
    """Runs a servicer method's body; a ServingError becomes its gRPC status (``_answer_error``: every
    refusal goes this way, never ``context.abort``).

    Anything else is a bug of the server: logged with its traceback, answered INTERNAL without
    its text (which may name server-side paths), where grpc would answer UNKNOWN with it.
    """

    @functools.wraps(method)
    async def handler(self, request, context):
        try:
            return await method(self, request)
        except ServingError as error:
            return _answer_error(context, error)
        except Exception:  # noqa: BLE001 - see the docstring
            log.exception("gRPC %s failed", method.__name__)
            return _answer_error(context, ServingError(grpc.StatusCode.INTERNAL, INTERNAL_ERROR))

    return handler


class _Servicer:
    def __init__(self, service, pool):
        self.service = service
        self._pool = pool

    async def run(self, function, *args):
        return await asyncio.get_running_loop().run_in_executor(self._pool, function, *args)


class PredictionServicer(_Servicer, prediction_service_pb2_grpc.PredictionServiceServicer):
    @_serving
    async def Predict(self, request):
        return await self.run(self.service.predict, request)

    @_serving
    async def GetModelMetadata(self, request):
        return await self.run(self.service.metadata, model_spec_of(request), request.metadata_field)

    @_serving
    async def Classify(self, request):
        await self.run(self.service.refuse_inference, "Classify", model_spec_of(request))

    @_serving
    async def Regress(self, request):
        await self.run(self.service.refuse_inference, "Regress", model_spec_of(request))

    @_serving
    async def MultiInference(self, request):
        await self.run(self.service.refuse_multi_inference, request)


class ModelServicer(_Servicer, model_service_pb2_grpc.ModelServiceServicer):
    @_serving
    async def GetModelStatus(self, request):
        return await self.run(self.service.status, model_spec_of(request))

    @_serving
    async def HandleReloadConfigRequest(self, request):
        raise ServingError(grpc.StatusCode.UNIMPLEMENTED,
                           "config reloads are not supported: this server watches one model dir")


class _UnaryCalls(grpc.aio.ServerInterceptor):
    """How every unary call is received: counted, read within a deadline, priced, then parsed.

    * at most ``max_concurrent_rpcs`` calls are in progress (more: RESOURCE_EXHAUSTED at once;
      gRPC's own ``maximum_concurrent_rpcs`` let 36-49 of 32 through, measured);
    * gRPC waits for a unary request without limit: a client that opens calls and never sends their
      message would hold them forever. Each unary method is served as a stream-unary one (the same
      bytes on the wire) that reads its one message, as bytes, within ``read_timeout_seconds``;
    * the bytes are priced as parsed (``message_cost.parsed_cost``) and held in the payload budget
      (``Admission.payload``) before the worker pool parses them, so a message of a million tiny
      entries is refused before it costs its parse, and no parse blocks the event loop. Bytes that
      are no such message (garbage, truncated, a string field that is not UTF-8, nesting past
      protobuf's limit) are INVALID_ARGUMENT, as TF Serving answers, where grpc's own parsing would
      answer UNKNOWN and log a traceback.
    """

    def __init__(self, admission, pool):
        self.admission = admission
        self._pool = pool
        self._calls = 0

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None or handler.request_streaming or handler.response_streaming:
            return handler
        request_type = _REQUEST_TYPES[handler_call_details.method]

        async def read_then_answer(request_iterator, context):
            limits = self.admission.limits
            if self._calls >= limits.max_concurrent_rpcs:
                return _answer_error(context, ServingError(
                    grpc.StatusCode.RESOURCE_EXHAUSTED, f"the server has {self._calls} calls in progress, its "
                                                        f"limit (--max-concurrent-rpcs); retry"))
            self._calls += 1
            try:
                data = await self._receive(request_iterator, limits.read_timeout_seconds)
                cost = await self._run(parsed_cost, data, request_type, limits.max_request_bytes)
                with self.admission.payload(cost):
                    request = await self._run(handler.request_deserializer, data)
                    del data
                    response = await handler.unary_unary(request, context)
                    del request  # before the payload is released (the memory is given back then)
                return response
            except ServingError as error:
                return _answer_error(context, error)
            finally:
                self._calls -= 1

        return grpc.stream_unary_rpc_method_handler(read_then_answer, response_serializer=handler.response_serializer)

    async def _run(self, function, data, *args):
        """``function(data, *args)`` on the worker pool; its refusals as ServingErrors."""
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, function, data, *args)
        except OverBudget as over:
            raise ServingError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                               request_too_large_message(str(over), self.admission.limits)) from None
        except (MalformedMessage, DecodeError) as error:
            # protobuf's own words name its classes: logged, not answered
            log.debug("unparseable request of %d bytes: %s", len(data), error)
            raise ServingError(grpc.StatusCode.INVALID_ARGUMENT,
                               f"the request message ({len(data)} bytes) does not parse as the method's "
                               "request type") from None

    @staticmethod
    async def _receive(request_iterator, seconds):
        """The call's one message, as bytes."""
        messages = request_iterator.__aiter__()
        try:
            return await asyncio.wait_for(messages.__anext__(), seconds)
        except asyncio.TimeoutError:
            raise ServingError(grpc.StatusCode.DEADLINE_EXCEEDED,
                               f"the request message did not arrive within {seconds:g} s") from None
        except StopAsyncIteration:
            raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, "the call carried no request message") from None
        finally:
            # gRPC's message generator, suspended after its first message, holds that message until
            # the garbage collector finds it: a large request's memory outlived its call (measured).
            await messages.aclose()


def _address(host, port):
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


class _EventLoopThread:
    """An asyncio event loop running in a daemon thread; ``call(coroutine)`` runs one there and waits."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="serving-loop", daemon=True)
        self._thread.start()

    def call(self, coroutine, timeout=None):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


async def _start_grpc(service, pool, host, port, limits):
    server = grpc.aio.server(interceptors=[_UnaryCalls(service.admission, pool)], options=[
        # Over-limit messages are refused by gRPC before the handler sees them: keep its limit above
        # ours so that an oversized request gets the handler's clearer RESOURCE_EXHAUSTED message.
        ("grpc.max_receive_message_length", limits.max_request_bytes + MiB),
        ("grpc.max_send_message_length", limits.max_message_bytes),
        ("grpc.so_reuseport", 0),  # a port in use is an error, not a second server sharing it
    ])
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(PredictionServicer(service, pool), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelServicer(service, pool), server)
    try:
        bound = server.add_insecure_port(_address(host, port))
    except RuntimeError as error:
        log.debug("binding %s failed: %s", _address(host, port), error)
        bound = 0
    if not bound:
        raise OSError(f"cannot listen on {_address(host, port)} (port in use or host not local?)")
    await server.start()
    return server, bound


@dataclasses.dataclass
class RunningServer:
    """A started server: ``port`` it listens on (gRPC), ``rest_port`` (or None), ``stop()``."""

    store: ModelStore
    host: str
    port: int
    _loop: _EventLoopThread
    _grpc_server: object
    _pool: concurrent.futures.ThreadPoolExecutor
    _admission: Admission
    rest_server: object = None

    @property
    def address(self):
        return _address(self.host, self.port)

    @property
    def rest_port(self):
        return self.rest_server.port if self.rest_server else None

    def stop(self, grace=5.0):
        """Stops taking requests and lets the graph runs in progress finish for up to ``grace`` seconds (both
        protocols at once); requests still waiting for pixel or graph-run room answer UNAVAILABLE at once
        (clients retry elsewhere): a queue of them would otherwise hold the exit for its whole length
        (20.6 s, measured)."""
        self._admission.close()
        self._loop.call(self._stop_transports(grace))
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._loop.close()
        self.store.stop()

    async def _stop_transports(self, grace):
        stops = [self._grpc_server.stop(grace)] + ([self.rest_server.stop(grace)] if self.rest_server else [])
        await asyncio.gather(*stops)
        self._grpc_server = None  # gRPC's aio server must be freed while its event loop runs

    def wait(self):
        self._loop.call(self._grpc_server.wait_for_termination())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start_server(model_dir, host="127.0.0.1", port=0, model_name=contract.MODEL_NAME, poll_seconds=2.0,
                 num_versions=1, limits=ServingLimits(), rest_port=None, version_labels=None, release_memory=False):
    """Loads (and warms up) the served version(s) under ``model_dir``, starts serving, returns a RunningServer.

    ``port=0`` picks a free port (read it from ``.port``). The model dir may be empty or
    missing at start: the server then answers NOT_FOUND until the first version lands.
    ``version_labels`` (label -> version) pins the served versions to the labelled ones; each
    must be loadable at start (else ServingError FAILED_PRECONDITION, as TF Serving refuses it).
    ``release_memory`` gives freed memory back to the OS after large requests (``admission.py``).
    """
    admission = Admission(limits, release_memory=release_memory)
    store = ModelStore(model_dir, name=model_name, num_versions=num_versions, poll_seconds=poll_seconds,
                       warmup=functools.partial(replay_warmup_requests, admission=admission),
                       version_labels=version_labels).start()
    try:
        store.check_version_labels()
    except ServingError:
        store.stop()
        raise
    service = Service(store, admission)
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=limits.workers, thread_name_prefix="serve")
    loop = _EventLoopThread()
    try:
        grpc_server, bound = loop.call(_start_grpc(service, pool, host, port, limits))
    except BaseException:
        loop.close()
        pool.shutdown(wait=False)
        store.stop()
        raise
    running = RunningServer(store, host, bound, loop, grpc_server, pool, admission)
    if rest_port is not None:
        from .rest import start_rest_server

        try:
            running.rest_server = loop.call(start_rest_server(service, pool, host, rest_port))
        except BaseException:
            running.stop(grace=0)
            raise
    log.info("serving model %s from %s on %s", model_name, model_dir, running.address)
    return running


def serve(model_dir, grace=5.0, on_ready=None, **server_options):
    """Runs a server until SIGTERM or SIGINT, then stops it gracefully. For the ``serve`` command."""
    stop_requested = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop_requested.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        running = start_server(model_dir, **server_options)
        if on_ready:
            on_ready(running)
        stop_requested.wait()
        running.stop(grace)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
