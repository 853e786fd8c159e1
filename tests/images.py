"""Small real images for upload tests (JPEG, PNG, WebP), each unique, padded to any size."""

import os
import struct
import zlib

FIVE_MB = 5 * 1024 * 1024


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(padding: int = 0) -> bytes:
    """A real 1x1 PNG, made unique by a random text chunk, padded after its end to any size."""
    image = (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
        + _png_chunk(b"tEXt", b"Comment\x00" + os.urandom(8).hex().encode())
        + _png_chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + _png_chunk(b"IEND", b"")
    )
    return image + b"\x00" * (padding - len(image)) if padding else image


def jpeg() -> bytes:
    """SOI, a JFIF APP0 header, a random comment, EOI."""
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    comment = os.urandom(8).hex().encode()
    return (
        b"\xff\xd8"
        + b"\xff\xe0" + struct.pack(">H", len(app0) + 2) + app0
        + b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment
        + b"\xff\xd9"
    )  # fmt: skip


def webp() -> bytes:
    """A RIFF container holding a lossless (VP8L) 1x1 header and random metadata."""
    vp8l = b"\x2f\x00\x00\x00\x00" + os.urandom(8)
    body = b"WEBP" + b"VP8L" + struct.pack("<I", len(vp8l)) + vp8l + b"\x00" * (len(vp8l) % 2)
    return b"RIFF" + struct.pack("<I", len(body)) + body
