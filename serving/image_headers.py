"""Width, height and frame count of an encoded photo, read from its header without decoding it.

The server prices every photo in pixels before the graph decodes it (``admission.py``), for the
formats the serving graph decodes (``serving_contract.ACCEPTED_IMAGE_MAGIC``), as the decoder
will produce them: JPEG (the SOF marker libjpeg reads), PNG (IHDR), GIF (every frame at the
largest frame size, since TensorFlow's ``decode_gif`` decodes every frame even when the graph keeps
the first; pathological block structure refused) and BMP. Bytes of any other format are not
priced: the graph refuses them by their leading bytes, before decoding.

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
_GIF_FREE_BLOCKS = 4096
_GIF_BYTES_PER_BLOCK = 128


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
    """The size in the SOF marker libjpeg reads: markers found as its ``next_marker`` finds them, segments
    skipped by their lengths, so bytes inside a segment (a fake SOF in an APPn) are never taken for one."""
    position = 2
    while True:
        position = data.find(b"\xff", position)  # libjpeg skips (discards) stray bytes between markers
        if position < 0:
            raise HeaderError("a JPEG without a start-of-frame marker")
        while data[position] == 0xFF:  # fill bytes
            position += 1
        marker = data[position]
        position += 1
        if marker == 0x00 or marker in _JPEG_STANDALONE:  # FF00 is stuffed data to libjpeg, not a marker
            continue
        if marker in (0xD9, 0xDA):  # end of image, or scan data before any frame header
            raise HeaderError("a JPEG whose scan comes before its start-of-frame marker")
        if marker in _JPEG_SOF:
            height, width = struct.unpack_from(">HH", data, position + 3)
            return ImageHeader("JPEG", width, height)
        (length,) = struct.unpack_from(">H", data, position)
        position += max(length, 2)  # libjpeg skips length - 2 bytes after the length, none if that is < 0


def _gif(data):
    """Frames x the largest frame width x the largest frame height: TensorFlow's ``decode_gif`` output.

    TensorFlow ignores the logical screen: its canvas is as wide as the widest frame and as high as
    the highest (measured), and it decodes every frame. Blocks that are not image data cost the
    decoder time, not pixels (32 MiB of one-byte comment blocks took 61-109 s of server time):
    beyond ``_GIF_FREE_BLOCKS``, a GIF may have one block or sub-block per ``_GIF_BYTES_PER_BLOCK``
    bytes (image data comes in sub-blocks of 255 bytes), else HeaderError; the walk stops there.
    """
    flags = data[10]
    position = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    frames = width = height = blocks = 0
    most_blocks = _GIF_FREE_BLOCKS + len(data) // _GIF_BYTES_PER_BLOCK
    while position < len(data):
        block = data[position]
        if block == 0x3B:  # trailer
            break
        if block == 0x2C:  # image descriptor: a frame
            frames += 1
            frame_width, frame_height, frame_flags = struct.unpack_from("<HHB", data, position + 5)
            width, height = max(width, frame_width), max(height, frame_height)
            position += 10 + (3 << ((frame_flags & 7) + 1) if frame_flags & 0x80 else 0) + 1  # + LZW code size
        elif block == 0x21:  # extension: introducer and label
            position += 2
        else:
            break  # not a GIF block: the decoder stops (or fails) here too
        blocks += 1
        while position < len(data) and data[position]:  # data sub-blocks, up to the 0 terminator
            position += data[position] + 1
            blocks += 1
            if blocks > most_blocks:
                raise HeaderError(f"a GIF of more than {most_blocks} blocks in {len(data)} bytes (at most "
                                  f"{_GIF_FREE_BLOCKS} and one per {_GIF_BYTES_PER_BLOCK} bytes): not image data")
        position += 1
    if not frames:
        raise HeaderError("a GIF without an image")
    return ImageHeader("GIF", width, height, frames)


def _bmp(data):
    (header_size,) = struct.unpack_from("<I", data, 14)
    if header_size == 12:  # OS/2 BITMAPCOREHEADER
        width, height = struct.unpack_from("<HH", data, 18)
    else:
        width, height = struct.unpack_from("<ii", data, 18)
    return ImageHeader("BMP", abs(width), abs(height))
