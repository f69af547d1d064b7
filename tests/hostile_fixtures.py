"""Test harness: `colornet serve` in a subprocess, and what strangers send it.

Shared by tests/test_hostile_inputs.py and benchmarks/soak.py: starting and stopping the server
process and reading its memory from /proc, hand-made TensorProtos and photos (a header that
declares 30000x30000, a GIF of many frames on a large screen), and raw HTTP exchanges.
"""
import dataclasses
import io
import json
import re
import socket
import struct
import subprocess
import sys
import zlib

import grpc
from PIL import Image
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow_serving.apis import classification_pb2, predict_pb2, prediction_service_pb2_grpc

from colornet.schemas import serving_contract as contract
from colornet.serving.limits import ServingLimits


def proc_status(pid):
    """VmRSS, VmHWM (peak) in bytes and the thread count of a process."""
    with open(f"/proc/{pid}/status") as status:
        text = status.read()
    fields = {name: int(re.search(rf"^{name}:\s+(\d+)", text, re.MULTILINE)[1])
              for name in ("VmRSS", "VmHWM", "Threads")}
    return {"rss": fields["VmRSS"] * 1024, "peak": fields["VmHWM"] * 1024, "threads": fields["Threads"]}


def limit_flags(limits):
    """The ``serve`` flags that set ``limits`` (those that differ from the defaults)."""
    defaults = ServingLimits()
    return [argument for field in dataclasses.fields(limits)
            if getattr(limits, field.name) != getattr(defaults, field.name)
            for argument in (f"--{field.name.replace('_', '-')}", str(getattr(limits, field.name)))]


@dataclasses.dataclass
class ServerProcess:
    """A running ``python -m colornet.serving.commands serve``: its gRPC target, REST port and start RSS."""

    process: subprocess.Popen
    target: str
    rest_port: int
    start_rss: int

    def status(self):
        return proc_status(self.process.pid)

    def stop(self):
        """SIGTERM, then the exit code (killed after 30 s)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()


def start_server_process(models, *flags):
    """Starts the serving command on ``models`` (free ports, gRPC and REST) and waits for its banner."""
    command = [sys.executable, "-m", "colornet.serving.commands", "serve", "--model-dir", str(models), "--port", "0",
               "--rest-port", "0", "--poll-seconds", "1", *flags]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    banner = process.stdout.readline()
    match = re.search(r"on (127\.0\.0\.1:\d+) \(gRPC\), REST on 127\.0\.0\.1:(\d+)", banner)
    if not match:
        process.kill()
        raise RuntimeError(f"the server did not start: {banner!r}")
    return ServerProcess(process, match[1], int(match[2]), proc_status(process.pid)["rss"])


def shape(dims):
    return tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=size) for size in dims])


def strings(values, dims=None):
    """A DT_STRING TensorProto of ``values``, declaring ``dims`` (default: what it carries)."""
    return tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, string_val=values,
                                  tensor_shape=shape(dims if dims is not None else [len(values)]))


def floats_declaring(dims):
    """A DT_FLOAT TensorProto that declares ``dims`` and carries one value (42 bytes for 10^9 elements)."""
    return tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_shape=shape(dims), float_val=[1.0])


def png(width, height):
    """A black PNG: tiny to send, ``width`` x ``height`` to decode."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height)).save(buffer, "PNG")
    return buffer.getvalue()


def png_header_only(width, height):
    """A PNG that is only a signature and an IHDR declaring ``width`` x ``height``."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))


def _gif_frame(width, height, left=0, top=0):
    """One uniform gray ``width`` x ``height`` frame (image descriptor, local color table, LZW data) at
    (``left``, ``top``): Pillow's LZW data of a uniform frame is a few bytes per thousand pixels."""
    buffer = io.BytesIO()
    Image.new("L", (width, height), 128).save(buffer, "GIF")
    encoded = buffer.getvalue()
    flags = encoded[10]
    table = encoded[13:13 + (3 << ((flags & 7) + 1))]  # Pillow writes a global color table
    image = encoded[encoded.index(b"\x2c", 13 + len(table)):-1]  # up to the trailer
    return b"\x2c" + struct.pack("<HHHHB", left, top, width, height, 0x80 | flags & 7) + table + image[10:]


def gif(width, height, frames, screen=None, before_frames=b""):
    """A GIF of ``frames`` uniform frames of ``width`` x ``height`` (a few KB for millions of pixels);
    ``frames`` may instead be a list of (width, height), the logical ``screen`` another size, and
    ``before_frames`` bytes (extension blocks) come before the first frame."""
    sizes = frames if isinstance(frames, list) else [(width, height)] * frames
    encoded = {size: _gif_frame(*size) for size in set(sizes)}
    screen_width, screen_height = screen or (width, height)
    return (b"GIF89a" + struct.pack("<HHBBB", screen_width, screen_height, 0, 0, 0) + before_frames
            + b"".join(encoded[size] for size in sizes) + b"\x3b")


def gif_comment_blocks(count):
    """A comment extension of ``count`` one-byte sub-blocks (2 bytes each)."""
    return b"\x21\xfe" + b"\x01c" * count + b"\x00"


def jpeg_hiding_its_sof(width, height, fake=(10, 10)):
    """A uniform ``width`` x ``height`` JPEG whose markers after SOI sit behind an FF00 (stuffed data to
    libjpeg, which scans on) that a naive parser takes for a segment whose length covers them all,
    landing on a fake SOF of ``fake`` size after the end of the image. The JPEG must stay under 64 KiB
    (a segment length): Huffman-optimized, a uniform 4000x4000 one takes 61 KiB."""
    buffer = io.BytesIO()
    Image.new("L", (width, height), 100).save(buffer, "JPEG", optimize=True)
    real = buffer.getvalue()
    fake_sof = b"\xff\xc0\x00\x0b\x08" + struct.pack(">HH", fake[1], fake[0]) + b"\x01\x01\x11\x00"
    return real[:2] + b"\xff\x00" + struct.pack(">H", len(real)) + real[2:] + fake_sof


def predict(channel, tensor, timeout, signature=contract.SERVING_SIGNATURE, name=contract.IMAGES_INPUT):
    """(status code, details) of a Predict with ``tensor`` as its one input."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = contract.MODEL_NAME
    request.model_spec.signature_name = signature
    request.inputs[name].CopyFrom(tensor)
    try:
        prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=timeout)
    except grpc.RpcError as error:
        return error.code(), error.details()
    return grpc.StatusCode.OK, ""


def _varint(number):
    out = bytearray()
    while number >= 0x80:
        out.append(number & 0x7F | 0x80)
        number >>= 7
    return bytes(out + bytes([number]))


def _field(number, payload):
    """A length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def empty_string_entries(count):
    """``count`` empty ``string_val`` entries of a TensorProto, as wire bytes (2 bytes each): written raw,
    since building such a proto in Python would cost the client what it costs the server."""
    return b"\x42\x00" * count


def predict_bytes(tensor, raw_tensor_fields=b"", model=contract.MODEL_NAME):
    """A serialized PredictRequest for ``model`` with ``tensor`` (plus ``raw_tensor_fields``) as its images input."""
    entry = _field(1, contract.IMAGES_INPUT.encode()) + _field(2, tensor.SerializeToString() + raw_tensor_fields)
    return _field(1, _field(1, model.encode())) + _field(2, entry)


def classification_bytes(photo):
    """A serialized ClassificationRequest of one tf.Example holding ``photo``."""
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = contract.MODEL_NAME
    example = request.input.example_list.examples.add()
    example.features.feature["image"].bytes_list.value.append(photo)
    return request.SerializeToString()


def predict_raw(channel, body, timeout, method="Predict"):
    """(status code, details) of a PredictionService call whose request message is the bytes ``body``."""
    call = channel.unary_unary(f"/tensorflow.serving.PredictionService/{method}", request_serializer=bytes,
                               response_deserializer=bytes)
    try:
        call(body, timeout=timeout)
    except grpc.RpcError as error:
        return error.code(), error.details()
    return grpc.StatusCode.OK, ""


def post(path, body, headers=b""):
    """The raw bytes of a POST of ``body`` that closes the connection after the reply."""
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\nConnection: close\r\n".encode()
            + headers + b"\r\n" + body)


def post_chunked(path, body, chunk=4096):
    """The raw bytes of a chunked POST of ``body`` (``chunk`` bytes per chunk) that closes the connection."""
    chunks = b"".join(f"{len(body[start:start + chunk]):x}\r\n".encode() + body[start:start + chunk] + b"\r\n"
                      for start in range(0, len(body), chunk))
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".encode()
            + chunks + b"0\r\n\r\n")


def trickle(port, head, interval, stop):
    """Sends ``head`` and then one body byte every ``interval`` s until ``stop`` is set or the server closes;
    returns the status of the server's reply (None if it closed without one)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head)
        try:
            while not stop.wait(interval):
                sock.sendall(b" ")
        except OSError:
            pass  # the server closed the connection
        sock.settimeout(5)
        try:
            reply = sock.recv(65536)
        except OSError:
            return None
    return int(reply.split()[1]) if reply else None


def http(port, raw, timeout=15):
    """Sends raw bytes to 127.0.0.1:``port``; returns (status, JSON body) of the reply, (None, None) if closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(raw)
        reply = b""
        while b"\r\n\r\n" not in reply or len(reply) < _reply_length(reply):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    if not reply:
        return None, None
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body) if body else None


def _reply_length(reply):
    head, _, _ = reply.partition(b"\r\n\r\n")
    match = re.search(rb"content-length: (\d+)", head, re.IGNORECASE)
    return len(head) + 4 + int(match[1]) if match else len(reply) + 1
