"""The trace cache of one @function: ConcreteFunctions by signature key, least recently used
first out when `cache_size` is set, with hit/miss/eviction counts for `cache_info()`.

Entries with unknown dims (traced by reduce_retracing or on_excess="relax") match any call whose
specs they are compatible with. An entry also keeps alive the objects its key names by id()
(captured objects, function arguments), so an id cannot be reused by a new object while the
entry exists; evicting the entry lets both go."""
import collections
from typing import NamedTuple

from ..ir.primitives import CONST


class CacheInfo(NamedTuple):
    """`f.cache_info()`. entries/hits/misses/evictions count calls (not get_concrete_function);
    constant_bytes, captured_bytes and kernels are over the live entries; traces and
    compile_seconds (tracing + passes + backend, kernel compilation included) over all of them."""
    entries: int
    max_size: object
    hits: int
    misses: int
    evictions: int
    traces: int
    constant_bytes: int
    captured_bytes: int
    kernels: int
    compile_seconds: float
    eager_fallback: bool

    def __str__(self):
        size = "unbounded" if self.max_size is None else f"max {self.max_size}"
        mode = " (running eagerly: on_excess='eager' fired)" if self.eager_fallback else ""
        return (f"{self.entries} entries ({size}), {self.hits} hits, {self.misses} misses, {self.evictions} evictions, "
                f"{self.traces} traces{mode}\n{self.constant_bytes} bytes of constants baked into graphs, "
                f"{self.captured_bytes} bytes of captured arrays passed by reference, {self.kernels} kernels, "
                f"{self.compile_seconds:.3f} s tracing and compiling")


class _Entry:
    __slots__ = ("concrete", "generic_key", "specs", "keepalive")

    def __init__(self, concrete, generic_key, specs, keepalive):
        self.concrete, self.generic_key, self.specs, self.keepalive = concrete, generic_key, specs, keepalive


class TraceCache:
    def __init__(self, max_size=None):
        if max_size is not None and max_size < 1:
            raise ValueError(f"cache_size must be at least 1, got {max_size}")
        self.max_size = max_size
        self._entries = collections.OrderedDict()     # key -> _Entry, least recently used first
        self.evictions = 0

    def __len__(self):
        return len(self._entries)

    def keys(self):
        return set(self._entries)

    def concretes(self):
        return [e.concrete for e in self._entries.values()]

    def get(self, key, generic_key, tensor_specs, allow_relaxed):
        """The ConcreteFunction for an exact key; else, if allowed, that of a relaxed entry with
        the same generic key (Python values, structure, dtypes, ranks) whose specs are compatible
        with the call's; else None."""
        entry = self._entries.get(key)
        if entry is None and allow_relaxed:
            entry = next((e for e in self._entries.values() if e.generic_key == generic_key
                          and _compatible(e.specs, tensor_specs)), None)
        if entry is None:
            return None
        self.touch(entry.concrete)
        return entry.concrete

    def touch(self, concrete):
        """Mark as most recently used (only an LRU-bounded cache keeps order)."""
        if self.max_size is not None:
            self._entries.move_to_end(concrete._cache_key)

    def put(self, key, concrete, generic_key, specs, keepalive):
        """Insert (generic_key None: an exact entry, else a relaxed one); returns the
        ConcreteFunctions evicted to stay within max_size."""
        concrete._cache_key = key
        self._entries[key] = _Entry(concrete, generic_key, specs, keepalive)
        evicted = []
        while self.max_size is not None and len(self._entries) > self.max_size:
            _, entry = self._entries.popitem(last=False)
            evicted.append(entry.concrete)
            self.evictions += 1
        return evicted


def _compatible(specs, tensor_specs):
    return len(specs) == len(tensor_specs) and all(s.is_compatible_with(t) for s, t in zip(specs, tensor_specs))


def constant_bytes(graph):
    """Bytes of the constants a graph bakes in."""
    return sum(n.params["value"].nbytes for n in graph.nodes if n.prim is CONST)


def captured_bytes(graph):
    """Bytes of the captured arrays a graph reads by reference at call time."""
    return sum(array.nbytes for _, array in graph.captures)
