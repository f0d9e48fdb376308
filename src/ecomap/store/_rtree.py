"""Bulk loading of a GeoPackage layer's SQLite R-tree, as GDAL does for new layers.

SQLite inserts into an R*-tree one box at a time (~15 µs each: every insert rewrites
nodes); a packed tree written straight into the R-tree's tables takes a small part of
that.  The tables' format is SQLite's (``ext/rtree/rtree.c``): ``<name>_node`` holds
nodes as blobs of one fixed size — 2 bytes of tree depth (root node 1 only) and 2 of
cell count, then cells of a 64-bit id and minx, maxx, miny, maxy as 32-bit floats,
all big-endian, rounded outwards — ``<name>_parent`` each node's parent and
``<name>_rowid`` each id's leaf node.  Everything is written inside the caller's
transaction.
"""

from __future__ import annotations

import numpy as np

__all__ = ["rebuild_rtree"]

_CELL = np.dtype([("id", ">i8"), ("box", ">f4", (4,))])  # minx, maxx, miny, maxy


def _outward(bounds: np.ndarray) -> np.ndarray:
    """(minx, maxx, miny, maxy) as float32, minima rounded down and maxima up (as SQLite
    stores them, so that a box always holds its geometry)."""
    f = bounds.astype(np.float32)
    low, high = f[:, [0, 2]], f[:, [1, 3]]
    low = np.where(low > bounds[:, [0, 2]], np.nextafter(low, np.float32(-np.inf)), low)
    high = np.where(high < bounds[:, [1, 3]], np.nextafter(high, np.float32(np.inf)), high)
    return np.column_stack([low[:, 0], high[:, 0], low[:, 1], high[:, 1]])


def _pack(boxes: np.ndarray, cap: int) -> np.ndarray:
    """Node of each box (0 …) in a sort-tile-recursive packing of nodes of at most
    ``cap`` boxes, filled evenly (so that no node but the root is under a third full)."""
    n = len(boxes)
    nodes = -(-n // cap)
    slices = int(np.ceil(np.sqrt(nodes)))
    cx = boxes[:, 0].astype(float) + boxes[:, 1]
    cy = boxes[:, 2].astype(float) + boxes[:, 3]
    by_x = np.argsort(cx, kind="stable")
    strip = np.empty(n, dtype=np.int64)
    strip[by_x] = np.arange(n) * slices // n  # vertical strips, then up each strip
    order = np.lexsort((cy, strip))
    node = np.empty(n, dtype=np.int64)
    node[order] = np.arange(n) * nodes // n
    return node


def rebuild_rtree(con, rtree: str, ids: np.ndarray, bounds: np.ndarray) -> None:
    """Replace the content of the R-tree ``rtree`` with boxes ``bounds`` (minx, miny,
    maxx, maxy; finite) for ``ids``."""
    node_size = con.execute(f'SELECT length(data) FROM "{rtree}_node" WHERE nodeno = 1'
                            ).fetchone()[0]
    cap = (node_size - 4) // _CELL.itemsize
    fields = [("depth", ">u2"), ("count", ">u2"), ("cells", _CELL, (cap,))]
    if node_size > 4 + cap * _CELL.itemsize:  # zeros to the fixed node size
        fields.append(("pad", f"V{node_size - 4 - cap * _CELL.itemsize}"))
    node_dtype = np.dtype(fields)
    boxes = _outward(np.asarray(bounds, dtype=float)[:, [0, 2, 1, 3]])
    ids = np.asarray(ids, dtype=np.int64)
    # Levels from the leaves up; a level's nodes are the next level's entries.
    levels = []
    while True:
        node = _pack(boxes, cap) if len(boxes) > cap else np.zeros(len(boxes), dtype=np.int64)
        order = np.argsort(node, kind="stable")
        levels.append((ids[order], boxes[order], node[order]))
        count = int(node.max()) + 1 if len(node) else 1
        if count == 1:
            break
        starts = np.flatnonzero(np.r_[True, node[order][1:] != node[order][:-1]])
        b = boxes[order]
        boxes = np.column_stack([np.minimum.reduceat(b[:, 0], starts),
                                 np.maximum.reduceat(b[:, 1], starts),
                                 np.minimum.reduceat(b[:, 2], starts),
                                 np.maximum.reduceat(b[:, 3], starts)])
        ids = np.arange(count, dtype=np.int64)  # numbered below
    # Node numbers: the root is 1, then each level from the top down.
    first, numbers = 1, []
    for _, _, node in reversed(levels):
        numbers.append(first + np.arange(int(node.max()) + 1 if len(node) else 1))
        first += len(numbers[-1])
    numbers.reverse()  # numbers[k]: node numbers of level k (0: leaves)
    con.execute(f'DELETE FROM "{rtree}_node"')
    con.execute(f'DELETE FROM "{rtree}_parent"')
    con.execute(f'DELETE FROM "{rtree}_rowid"')
    for k, (entry, box, node) in enumerate(levels):
        if k > 0:  # entries are nodes of the level below: their numbers, and parents
            entry = numbers[k - 1][entry]
            con.executemany(f'INSERT INTO "{rtree}_parent" (nodeno, parentnode) VALUES (?, ?)',
                            zip(entry.tolist(), numbers[k][node].tolist(), strict=True))
        else:
            con.executemany(f'INSERT INTO "{rtree}_rowid" (rowid, nodeno) VALUES (?, ?)',
                            zip(entry.tolist(), numbers[0][node].tolist(), strict=True))
        blobs = np.zeros(len(numbers[k]), dtype=node_dtype)
        counts = np.bincount(node, minlength=len(blobs))
        slot = np.arange(len(node)) - np.repeat(np.cumsum(counts) - counts, counts)
        blobs["count"] = counts
        blobs["cells"]["id"][node, slot] = entry
        blobs["cells"]["box"][node, slot] = box
        if k == len(levels) - 1:
            blobs["depth"][0] = k  # only the root says how deep the tree is
        raw = blobs.tobytes()
        con.executemany(f'INSERT INTO "{rtree}_node" (nodeno, data) VALUES (?, ?)',
                        ((int(no), raw[i * node_size:(i + 1) * node_size])
                         for i, no in enumerate(numbers[k])))
