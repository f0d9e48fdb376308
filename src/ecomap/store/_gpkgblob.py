"""GeoPackage geometry blobs (OGC 12-128r18 §2.1.3): header + WKB, both ways, vectorised."""

from __future__ import annotations

import struct

import numpy as np
import shapely

__all__ = ["from_gpkg", "to_gpkg"]

_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}


# The 40-byte header ecomap writes: magic, version, flags (little-endian, xy envelope),
# SRS id, then minx, maxx, miny, maxy.
_HEADER_XY_DTYPE = np.dtype([("magic", "S2"), ("version", "u1"), ("flags", "u1"),
                             ("srs_id", "<i4"), ("envelope", "<f8", (4,))])


def to_gpkg(geoms, srs_id: int) -> list[bytes | None]:
    """Encode shapely geometries as GeoPackage blobs with an xy envelope."""
    geoms = np.asarray(geoms, dtype=object)
    wkb = shapely.to_wkb(geoms, byte_order=1, flavor="iso")
    empty = shapely.is_empty(geoms)
    # Every header at once, in one buffer cut into 40-byte pieces.
    headers = np.zeros(len(geoms), dtype=_HEADER_XY_DTYPE)
    headers["magic"], headers["flags"], headers["srs_id"] = b"GP", 0x03, srs_id
    headers["envelope"] = shapely.bounds(geoms)[:, [0, 2, 1, 3]]
    raw, size = headers.tobytes(), _HEADER_XY_DTYPE.itemsize
    out: list[bytes | None] = [raw[i * size:(i + 1) * size] + w if w is not None else None
                               for i, w in enumerate(wkb.tolist())]
    for i in np.flatnonzero(empty & ~shapely.is_missing(geoms)):
        out[i] = struct.pack("<2sBBi", b"GP", 0, 0x01 | 0x10, srs_id) + wkb[i]
    return out


def _wkb_part(blob: bytes | None) -> bytes | None:
    if blob is None:
        return None
    if blob[:2] != b"GP":
        return bytes(blob)  # plain WKB written by some other tool
    flags = blob[3]
    return bytes(blob[8 + _ENVELOPE_BYTES.get((flags >> 1) & 0x07, 0):])


def from_gpkg(blobs) -> np.ndarray:
    """Decode GeoPackage blobs (or plain WKB) into shapely geometries."""
    blobs = list(blobs)
    # Fast path: every blob little-endian with an xy envelope, as ecomap writes them.
    if blobs and all(b is not None and b[:4] == b"GP\x00\x03" for b in blobs):
        return shapely.from_wkb([b[40:] for b in blobs])
    return shapely.from_wkb([_wkb_part(b) for b in blobs])


def envelope(blob: bytes | None) -> tuple[float, float, float, float] | None:
    """(minx, maxx, miny, maxy) of a blob, read from its header or computed."""
    if blob is None:
        return None
    flags = blob[3]
    if (flags >> 1) & 0x07:
        return struct.unpack_from("<4d" if flags & 1 else ">4d", blob, 8)
    geom = shapely.from_wkb(_wkb_part(blob))
    if geom.is_empty:
        return None
    minx, miny, maxx, maxy = geom.bounds
    return minx, maxx, miny, maxy


def is_empty(blob: bytes | None) -> int:
    """1 when the blob holds an empty geometry (the header's empty flag)."""
    if blob is None:
        return 1
    if blob[:2] == b"GP":
        return 1 if blob[3] & 0x10 else 0
    return int(shapely.from_wkb(blob).is_empty)
