"""Numba code that knows nothing of tracejit: the loop-nest generator (loops.py), vectorizable
scalar math (mathfuncs.py) and float16 bit conversion (float16.py). Generated kernels import
from here; tracejit's backend describes loops to it as plain data and source text."""
