"""Lowering tables: each backend maps Primitives to the rules that translate them for it, kept
next to the backend (backend/native/lowering.py, backend/interpreter.py). Adding a backend never
touches ops/; adding an op adds one entry per backend that should compute it natively (a backend
without an entry runs the op another way, e.g. through its NumPy implementation)."""


class LoweringTable:
    def __init__(self, backend):
        self.backend = backend
        self._rules = {}

    def register(self, prim, rule):
        if prim in self._rules:
            raise ValueError(f"{self.backend}: {prim.name} already has a lowering")
        self._rules[prim] = rule
        return rule

    def get(self, prim):
        return self._rules.get(prim)

    def __contains__(self, prim):
        return prim in self._rules

    def __iter__(self):
        return iter(self._rules.items())
