"""Width, height and frame count of an encoded photo, read from its header without decoding it.

The server prices every photo in pixels before the graph decodes it (``admission.py``), for the
formats the serving graph decodes (``serving_contract.ACCEPTED_IMAGE_MAGIC``): JPEG (the first
SOF marker), PNG (IHDR), GIF (the larger of the logical screen and the first frame, times the
number of frames, since TensorFlow's ``decode_gif`` decodes every frame even when the graph keeps
the first) and BMP. Bytes of any
other format are not priced: the graph refuses them by their leading bytes, before decoding.

Hand-written rather than Pillow: Pillow refuses to even report the size of a header over its own
decompression-bomb limit (and its limit is a process-wide setting), while here the size of any
header is read and reported as it is. TensorFlow-free.
"""
import dataclasses
import struct

from ..schemas import serving_contract as contract

_JPEG, _PNG, _GIF, _BMP = contract.ACCEPTED_IMAGE_MAGIC
# Start-of-frame markers carry the size: C0-CF except DHT (C4), JPG (C8) and DAC (CC).
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_STANDALONE = frozenset([0x01, *range(0xD0, 0xD9)])  # TEM, RSTn, SOI: no length field


class HeaderError(ValueError):
    """Bytes that start like a decodable format but whose size cannot be read from the header."""


@dataclasses.dataclass(frozen=True)
class ImageHeader:
    format: str
    width: int
    height: int
    frames: int = 1

    @property
    def pixels(self):
        """What decoding it allocates, in pixels: width x height x frames."""
        return self.width * self.height * self.frames

    def describe(self):
        frames = f" x {self.frames} frames" if self.frames > 1 else ""
        return f"{self.width}x{self.height}{frames} {self.format}"


def read_header(encoded):
    """The ImageHeader of ``encoded`` bytes; None when they are not a format the graph decodes.

    Raises HeaderError for a JPEG/PNG/GIF/BMP whose header is truncated or malformed.
    """
    for magic, reader in ((_JPEG, _jpeg), (_PNG, _png), (_GIF, _gif), (_BMP, _bmp)):
        if encoded.startswith(magic):
            try:
                return reader(encoded)
            except (struct.error, IndexError):
                raise HeaderError("its header is truncated") from None
    return None


def _png(data):
    if data[12:16] != b"IHDR":
        raise HeaderError("a PNG must start with its IHDR chunk")
    width, height = struct.unpack_from(">II", data, 16)
    return ImageHeader("PNG", width, height)


def _jpeg(data):
    position = 2
    while True:
        position = data.find(b"\xff", position)  # libjpeg skips stray bytes between markers too
        if position < 0:
            raise HeaderError("a JPEG without a start-of-frame marker")
        while data[position] == 0xFF:  # fill bytes
            position += 1
        marker = data[position]
        position += 1
        if marker in _JPEG_STANDALONE:
            continue
        if marker in (0xD9, 0xDA):  # end of image, or scan data before any frame header
            raise HeaderError("a JPEG whose scan comes before its start-of-frame marker")
        if marker in _JPEG_SOF:
            height, width = struct.unpack_from(">HH", data, position + 3)
            return ImageHeader("JPEG", width, height)
        (length,) = struct.unpack_from(">H", data, position)
        if length < 2:
            raise HeaderError(f"a JPEG segment of length {length}")
        position += length


def _gif(data):
    width, height, flags = struct.unpack_from("<HHB", data, 6)
    position = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    frames = 0
    while position < len(data):
        block = data[position]
        if block == 0x3B:  # trailer
            break
        if block == 0x2C:  # image descriptor: a frame
            frames += 1
            frame_width, frame_height, frame_flags = struct.unpack_from("<HHB", data, position + 5)
            if frames == 1:  # TensorFlow sizes its output by the first frame
                width, height = max(width, frame_width), max(height, frame_height)
            position += 10 + (3 << ((frame_flags & 7) + 1) if frame_flags & 0x80 else 0) + 1  # + LZW code size
        elif block == 0x21:  # extension: introducer and label
            position += 2
        else:
            break  # not a GIF block: the decoder stops (or fails) here too
        while position < len(data) and data[position]:  # data sub-blocks, up to the 0 terminator
            position += data[position] + 1
        position += 1
    return ImageHeader("GIF", width, height, max(frames, 1))


def _bmp(data):
    (header_size,) = struct.unpack_from("<I", data, 14)
    if header_size == 12:  # OS/2 BITMAPCOREHEADER
        width, height = struct.unpack_from("<HH", data, 18)
    else:
        width, height = struct.unpack_from("<ii", data, 18)
    return ImageHeader("BMP", abs(width), abs(height))
