"""The web service's answer cache: a map is drawn and a summary summed once per change
of the store, however many people look."""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

__all__ = ["AnswerCache", "Rendered", "store_state"]


@dataclass(frozen=True)
class Rendered:
    """A rendered map document: its bytes, gzipped once, and an ETag."""

    body: bytes
    gzipped: bytes
    etag: str

    @classmethod
    def of(cls, html_text: str) -> Rendered:
        body = html_text.encode("utf-8")
        return cls(body, gzip.compress(body, 6, mtime=0),
                   '"' + hashlib.sha256(body).hexdigest()[:32] + '"')


def store_state(st) -> tuple:
    """Changes whenever a batch is stored or rolled back."""
    b = st.batches()
    return (len(b), tuple(b["batch_id"].tolist()[-3:]) if len(b) else ())


class AnswerCache:
    """Answers by (question, store state), the ``size`` last asked kept."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict = {}

    def answer(self, st, what: tuple, build):
        """``build()`` once per state of the store ``st``; kept only when the store did
        not change while it was built (else the answer is given but not kept)."""
        state = store_state(st)
        return self.get((*what, state), lambda: (build(), store_state(st) == state))

    def get(self, key, build):
        """The value of ``key``; else ``build()`` → (value, keep), drawn by one thread
        while the others asking for it wait."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            gate = self._building.setdefault(key, threading.Lock())
        with gate:  # one thread draws it; the others wait for that drawing
            with self._lock:
                if key in self._items:
                    return self._items[key]
            try:
                value, current = build()
            finally:
                with self._lock:
                    self._building.pop(key, None)
            if current:  # the store did not change while it was built
                with self._lock:
                    self._items[key] = value
                    while len(self._items) > self.size:
                        self._items.popitem(last=False)
            return value
