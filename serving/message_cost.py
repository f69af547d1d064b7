"""What parsing a gRPC request message will cost, read from its wire bytes before it is parsed.

A protobuf message costs far more parsed than on the wire when it is made of many small
entries: each ``string_val`` entry of a TensorProto is 2 bytes on the wire and about 80 bytes
parsed (a ``std::string`` and its pointer in the C++ implementation), so a 2 MB message of a
million empty strings takes 76 MB and seconds of CPU to parse, a 32 MiB one 1.3 GB and 3.5 s
(measured). ``parsed_cost`` walks the wire format with the message's descriptor (field numbers,
which fields are sub-messages) and prices every field occurrence, stopping as soon as the price
passes a limit, so that the server refuses such a message before it parses it. The walk skips
the bytes of strings by their lengths: a request of 32 photos costs a few dozen steps.
"""
from google.protobuf import descriptor

# Bytes one field occurrence costs once parsed, beyond its own bytes (measured: 78 B per empty
# string_val entry with protobuf's C++ implementation); a packed varint may become a 64-bit value.
ENTRY_BYTES = 80
_PACKED_VARINT_BYTES = 8
_MAX_DEPTH = 100  # protobuf's own recursion limit
_MESSAGE = descriptor.FieldDescriptor.TYPE_MESSAGE
_VARINT_TYPES = frozenset([descriptor.FieldDescriptor.TYPE_INT32, descriptor.FieldDescriptor.TYPE_INT64,
                           descriptor.FieldDescriptor.TYPE_UINT32, descriptor.FieldDescriptor.TYPE_UINT64,
                           descriptor.FieldDescriptor.TYPE_SINT32, descriptor.FieldDescriptor.TYPE_SINT64,
                           descriptor.FieldDescriptor.TYPE_BOOL, descriptor.FieldDescriptor.TYPE_ENUM])


class MalformedMessage(ValueError):
    """Bytes that are not a valid protobuf encoding (truncated, a bad wire type, nested too deeply)."""


class OverBudget(Exception):
    """The message costs more than the limit ``parsed_cost`` was given; the text says how much."""


def _varint(data, position):
    result = shift = 0
    while True:
        if position >= len(data):
            raise MalformedMessage("a truncated varint")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, position
        shift += 7
        if shift > 63:
            raise MalformedMessage("a varint longer than 10 bytes")


class _Walk:
    def __init__(self, data, limit):
        self.data = data
        self.limit = limit
        self.cost = len(data)

    def add(self, nbytes):
        self.cost += nbytes
        if self.cost > self.limit:
            raise OverBudget(f"request is {len(self.data)} bytes" if nbytes == 0 else
                             f"request of {len(self.data)} bytes takes more than {self.cost} bytes parsed")

    def message(self, start, end, message_descriptor, depth):
        if self._fields(start, end, message_descriptor, depth, None) != end:
            raise MalformedMessage("a field longer than its message")

    def _fields(self, start, end, message_descriptor, depth, group):
        """Walks fields from ``start``; returns where the message ends (``end``) or, inside a group (an
        unknown field's old proto2 encoding, which protobuf parses in proto3 messages too), after its end tag."""
        if depth > _MAX_DEPTH:
            raise MalformedMessage(f"messages nested more than {_MAX_DEPTH} deep")
        data, position, entries = self.data, start, 0
        fields = message_descriptor.fields_by_number if message_descriptor else {}
        try:
            while position < end:
                key = data[position]  # one-byte varints inline: a run of tiny entries is the costly case
                position += 1
                if key & 0x80:
                    key, position = _varint(data, position - 1)
                wire_type = key & 7
                if wire_type == 2:
                    length = data[position]
                    position += 1
                    if length & 0x80:
                        length, position = _varint(data, position - 1)
                    if position + length > end:
                        raise MalformedMessage("a field longer than its message")
                    field = fields.get(key >> 3)
                    if field is not None and field.type == _MESSAGE:
                        self.message(position, position + length, field.message_type, depth + 1)
                    elif field is not None and field.type in _VARINT_TYPES:  # packed: a value per byte at most
                        self.add(length * _PACKED_VARINT_BYTES)
                    position += length
                elif wire_type == 0:
                    _, position = _varint(data, position)
                elif wire_type in (1, 5):
                    position += 8 if wire_type == 1 else 4
                elif wire_type == 3:
                    position = self._fields(position, end, None, depth + 1, key >> 3)
                elif wire_type == 4:
                    if group != key >> 3:
                        raise MalformedMessage("an end of group without its start")
                    self.add(entries * ENTRY_BYTES)
                    return position
                else:  # 6 and 7 are no wire type
                    raise MalformedMessage(f"wire type {wire_type}")
                entries += 1
                if entries & 1023 == 0:
                    self.add(1024 * ENTRY_BYTES)
                    entries = 0
        except IndexError:
            raise MalformedMessage("a truncated field") from None
        if group is not None:
            raise MalformedMessage("a group without its end")
        self.add(entries * ENTRY_BYTES)
        return position


def parsed_cost(data, message_descriptor, limit):
    """Upper estimate, in bytes, of the memory parsing ``data`` as a ``message_descriptor`` message allocates.

    Raises OverBudget as soon as the estimate passes ``limit`` (the walk stops there, so the work
    is bounded by ``limit / ENTRY_BYTES`` steps), MalformedMessage for bytes that do not parse.
    """
    walk = _Walk(data, limit)
    walk.add(0)
    walk.message(0, len(data), message_descriptor, 0)
    return walk.cost
