"""A small HTTP/1.1 server on asyncio and h11, bounded in connections, bytes and time, for the REST API.

h11 (a well-kept sans-I/O HTTP/1.1 parser, pinned in requirements.lock) parses and validates the
protocol: request line, headers (at most ``MAX_HEADER_BYTES``), ``Content-Length`` (digits only),
chunked bodies, keep-alive. This module adds what a server facing strangers needs:

* every connection is a coroutine on the server's event loop, so an idle or half-sent
  connection costs no thread; at most ``rest_max_connections`` are open (more: 503, closed);
* a request must arrive whole (headers and body) within ``read_timeout_seconds`` of its
  first byte (else 408, closed), an idle keep-alive connection is closed after
  ``rest_idle_timeout_seconds``, a reply that the client does not read is dropped after the
  read timeout;
* a body larger than ``max_request_bytes`` is refused from its ``Content-Length`` (413) before
  it is read, or once a chunked body passes it; the bytes of a body are held with ``receiving``
  (the server's budget of bodies being received) as they arrive, never the bytes a
  ``Content-Length`` promises (a refusal there is 503);
* the request line and headers may take ``MAX_HEADER_BYTES`` (else 431): the head is read at
  most that far (h11 alone accepted ~127 KB when a read brought the whole head at once);
* every error reply is JSON ``{"error": "..."}`` (TF Serving's REST error format), protocol
  errors included (400, 431 for oversized headers).

``handle(method, target, body)`` (a coroutine) answers each complete request with
``(status, json_text)``.
"""
import asyncio
import http
import json
import logging

import h11

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 64 * 1024
_CHUNK = 64 * 1024


class HttpError(Exception):
    """An HTTP error reply: ``status`` and the message of its ``{"error": ...}`` body."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def error_json(message):
    return json.dumps({"error": message})


class _Timeout(Exception):
    def __init__(self, started):
        super().__init__()
        self.started = started  # whether any byte of the request had arrived


class HttpServer:
    def __init__(self, handle, receiving, limits):
        self._handle = handle
        self._receiving = receiving
        self.limits = limits
        self._server = None
        self._connections = set()  # tasks of open connections
        self._busy = set()  # tasks answering a request right now
        self.port = None

    async def start(self, host, port):
        self._server = await asyncio.start_server(self._connection, host, port, backlog=self.limits.listen_backlog)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self, grace):
        """Stops accepting, lets requests being answered finish for up to ``grace`` s, closes the rest."""
        self._server.close()
        await self._server.wait_closed()
        if self._busy:
            await asyncio.wait(set(self._busy), timeout=grace)
        for task in set(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.wait(set(self._connections), timeout=grace)

    async def _connection(self, reader, writer):
        task = asyncio.current_task()
        try:
            if len(self._connections) >= self.limits.rest_max_connections:
                await self._send_raw(writer, 503, f"the server has {len(self._connections)} open connections, "
                                                  f"its limit; retry")
                return
            self._connections.add(task)
            connection = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADER_BYTES)
            while await self._exchange(connection, reader, writer):
                connection.start_next_cycle()
        except (ConnectionError, asyncio.TimeoutError, h11.LocalProtocolError) as error:
            log.debug("REST connection dropped: %s", error)
        finally:
            self._connections.discard(task)
            writer.close()

    async def _receive(self, connection, reader, clock, head=False):
        """The next h11 event, reading as needed until ``clock`` says time is up (raises _Timeout).

        ``head``: the event is the request (its line and headers), 431 past ``MAX_HEADER_BYTES``.
        """
        loop = asyncio.get_running_loop()
        buffered = len(connection.trailing_data[0])
        while True:
            event = connection.next_event()  # h11 raises (431) once an incomplete head passes its limit
            if event is not h11.NEED_DATA:
                if head and isinstance(event, h11.Request) and \
                        buffered - len(connection.trailing_data[0]) > MAX_HEADER_BYTES:
                    raise HttpError(431, f"the request's line and headers are over {MAX_HEADER_BYTES} bytes")
                return event
            remaining = clock["deadline"] - loop.time()
            try:
                if remaining <= 0:
                    raise asyncio.TimeoutError
                most = max(1, MAX_HEADER_BYTES + 1 - buffered) if head else _CHUNK
                data = await asyncio.wait_for(reader.read(most), remaining)
            except asyncio.TimeoutError:
                raise _Timeout(clock["started"]) from None
            if data and not clock["started"]:
                clock["started"] = True
                clock["deadline"] = loop.time() + self.limits.read_timeout_seconds
            buffered += len(data)
            connection.receive_data(data)

    async def _exchange(self, connection, reader, writer):
        """Reads one request and answers it; True when the connection may carry another."""
        loop = asyncio.get_running_loop()
        clock = {"started": bool(connection.trailing_data[0]),
                 "deadline": loop.time() + (self.limits.read_timeout_seconds if connection.trailing_data[0]
                                            else self.limits.rest_idle_timeout_seconds)}
        try:
            request = await self._receive(connection, reader, clock, head=True)
            if not isinstance(request, h11.Request):
                return False  # the client closed the connection
            length = int(dict(request.headers).get(b"content-length", 0))  # h11 checked it (digits only)
            if length > self.limits.max_request_bytes:
                raise HttpError(413, f"request body is {length} bytes, over the server's limit of "
                                     f"{self.limits.max_request_bytes} bytes")
            with self._receiving() as received:
                body = await self._read_body(connection, reader, writer, clock, received)
            if body is None:
                return False
            self._busy.add(asyncio.current_task())
            try:
                status, text = await self._handle(request.method.decode("latin-1"),
                                                  request.target.decode("latin-1"), body)
            finally:
                self._busy.discard(asyncio.current_task())
        except _Timeout as timeout:
            if timeout.started:
                await self._reply(connection, writer, 408, error_json(
                    f"the request did not arrive within {self.limits.read_timeout_seconds:g} s"), close=True)
            return False
        except h11.RemoteProtocolError as error:
            await self._reply(connection, writer, error.error_status_hint, error_json(f"bad HTTP request: {error}"),
                              close=True)
            return False
        except HttpError as error:
            await self._reply(connection, writer, error.status, error_json(error.message), close=True)
            return False
        head = request.method == b"HEAD"
        await self._reply(connection, writer, status, "" if head else text)
        return connection.our_state is h11.DONE and connection.their_state is h11.DONE

    async def _read_body(self, connection, reader, writer, clock, received):
        """The whole body (None if the client went away), each chunk held with ``received`` as it arrives;
        413 once a chunked body passes the limit."""
        if connection.they_are_waiting_for_100_continue:
            writer.write(connection.send(h11.InformationalResponse(status_code=100, headers=[], reason=b"Continue")))
        chunks, size = [], 0
        while True:
            event = await self._receive(connection, reader, clock)
            if isinstance(event, h11.Data):
                size += len(event.data)
                if size > self.limits.max_request_bytes:
                    raise HttpError(413, f"request body is over the server's limit of "
                                         f"{self.limits.max_request_bytes} bytes")
                received(len(event.data))
                chunks.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                return b"".join(chunks)
            else:
                return None

    async def _reply(self, connection, writer, status, text, close=False):
        if connection.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        body = text.encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        if close:
            headers.append(("Connection", "close"))
        data = connection.send(h11.Response(status_code=status, headers=headers, reason=_reason(status)))
        if body:
            data += connection.send(h11.Data(data=body))
        data += connection.send(h11.EndOfMessage())
        writer.write(data)
        await asyncio.wait_for(writer.drain(), self.limits.read_timeout_seconds)

    async def _send_raw(self, writer, status, message):
        body = error_json(message).encode()
        writer.write(f"HTTP/1.1 {status} {_reason(status).decode()}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        await asyncio.wait_for(writer.drain(), self.limits.read_timeout_seconds)


def _reason(status):
    try:
        return http.HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""
