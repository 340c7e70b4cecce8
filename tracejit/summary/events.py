"""TensorBoard event files without protobuf or TensorFlow: Event / Summary / HistogramProto /
GraphDef messages encoded by hand, framed as TFRecords (length, masked CRC32C, data, masked CRC32C).
writer.py writes them to files."""
import struct
import time

import numpy as np


# ---- protobuf wire format ----
def _varint(n):
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _key(field, wire):
    return _varint((field << 3) | wire)


def field_varint(field, value):
    return _key(field, 0) + _varint(int(value))


def field_double(field, value):
    return _key(field, 1) + struct.pack("<d", float(value))


def field_float(field, value):
    return _key(field, 5) + struct.pack("<f", float(value))


def field_bytes(field, data):
    data = data.encode() if isinstance(data, str) else bytes(data)
    return _key(field, 2) + _varint(len(data)) + data


def field_packed_doubles(field, values):
    return field_bytes(field, b"".join(struct.pack("<d", float(v)) for v in values))


# ---- messages ----
def scalar_value(tag, value):
    return field_bytes(1, tag) + field_float(2, value)


def histogram_value(tag, values, bins=30):
    values = np.asarray(values, np.float64).reshape(-1)
    if values.size == 0:
        values = np.zeros(1)
    counts, edges = np.histogram(values, bins=bins)
    histo = (field_double(1, values.min()) + field_double(2, values.max()) + field_double(3, values.size) +
             field_double(4, values.sum()) + field_double(5, np.square(values).sum()) +
             field_packed_doubles(6, edges[1:]) + field_packed_doubles(7, counts))
    return field_bytes(1, tag) + field_bytes(5, histo)


def summary(values):
    """A serialized Summary from serialized Summary.Value messages."""
    return b"".join(field_bytes(1, v) for v in values)


def event(step=0, summary_bytes=None, graph_def=None, file_version=None, wall_time=None):
    data = field_double(1, time.time() if wall_time is None else wall_time) + field_varint(2, step)
    if file_version is not None:
        data += field_bytes(3, file_version)
    if graph_def is not None:
        data += field_bytes(4, graph_def)
    if summary_bytes is not None:
        data += field_bytes(5, summary_bytes)
    return data


def graph_def(nodes):
    """GraphDef from (name, op, [input names], dtype enum or None); versions.producer = 27."""
    encoded = b""
    for name, op, inputs, dtype in nodes:
        node = field_bytes(1, name) + field_bytes(2, op) + b"".join(field_bytes(3, i) for i in inputs)
        if dtype is not None:                                    # attr {"T": AttrValue{type: dtype}}
            node += field_bytes(5, field_bytes(1, "T") + field_bytes(2, field_varint(6, dtype)))
        encoded += field_bytes(1, node)
    return encoded + field_bytes(4, field_varint(1, 27))


DATATYPE_ENUM = {"float32": 1, "float64": 2, "int32": 3, "uint8": 4, "int16": 5, "int8": 6, "string": 7,
                 "int64": 9, "bool": 10, "float16": 19}


# ---- TFRecord framing ----
def _crc32c_table():
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc32c_table()


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc(data):
    crc = crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def record(data):
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked_crc(length)) + data + struct.pack("<I", masked_crc(data))
