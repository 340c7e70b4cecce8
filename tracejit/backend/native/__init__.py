"""The "native" backend: each concrete function becomes native code — one function per native
segment, the whole graph when every node lowers — emitted as LLVM IR (loops over typed pointers,
BLAS through function pointers), optimized and compiled by LLVM through llvmlite, cached as
object code (plan.py, emit.py, rules.py, compile.py, cache.py, driver.py).

Tiers: a concrete function starts on the NumPy interpreter while its native code compiles (on a
background thread by default; `tracejit.config.set_compile_mode("sync")` compiles before the first
call), then switches; native code found in the cache is used from the first call. Importing this
package imports no LLVM; building native code does."""
import atexit
import threading

from ... import config
from ..interpreter import Interpreter
from .lowering import can_lower  # noqa: F401


_EXIT_WAIT_SECONDS = 10.0
_compiling = set()          # background compile threads still running
_exit_handler = []


def _finish_background_compiles():
    """A short script exits while its native code compiles in the background: wait for it (at
    most _EXIT_WAIT_SECONDS in all), so it lands in the cache and the next process starts native."""
    import time
    deadline = time.monotonic() + _EXIT_WAIT_SECONDS
    for thread in list(_compiling):
        thread.join(max(0.0, deadline - time.monotonic()))


def _wait_at_exit():
    """Register the wait after compile.py's exit handler (which stops LLVM): handlers run last
    registered first, so the compiles finish before LLVM stops."""
    if not _exit_handler:
        from . import compile  # noqa: F401
        atexit.register(_finish_background_compiles)
        _exit_handler.append(True)


def executable(graph, debug=None, on_host=()):
    return TieredExecutable(graph, debug, on_host)


def profiling_executable(graph):
    """A native executable of `graph` (compiled now) whose code adds each node's CPU cycles to
    `cycle_counts` (entries: `profile_entries`) and times its host steps (`host_seconds`)."""
    from .build import Lowered, NotLowerable
    try:
        lowered = Lowered(graph, profile=True)
    except NotLowerable as error:
        raise ValueError(f"{graph.name} cannot be profiled: it runs on the interpreter ({error})") from None
    code = lowered.load_cached() or lowered.compile()
    return lowered.executable(code, threading.RLock())


def cycles_per_second():
    """The rate of the cycle counter profiling builds read (measured once per process)."""
    from .compile import cycles_per_second as measure
    return measure()


class TieredExecutable:
    """Runs a graph on the best tier available: native code once it is ready, the interpreter
    before (and for good when the graph cannot be lowered). One lock serializes calls of both
    tiers, so no caller ever sees a half-built executable or interleaved variable updates."""

    def __init__(self, graph, debug=None, on_host=()):
        self.graph, self._debug, self._on_host = graph, debug, {id(n) for n in on_host}
        self._lock = threading.RLock()
        self._interpreter = Interpreter(graph)
        self._native = None
        self.lowered = None
        self.reason = None              # why native code is not (yet) running
        self.compile_seconds = 0.0
        self._compiled = threading.Event()
        # run(list of arrays) -> list of arrays: the interpreter until native code is installed
        self.run = self._interpreter.run if self._interpreter.computes_nothing else self._interpreted
        self._prepare()

    # ---- calling ----
    def __call__(self, arrays):
        return self.run(arrays)

    def _interpreted(self, arrays):
        with self._lock:
            return self._interpreter(arrays)

    @property
    def tier(self):
        return "native" if self._native is not None else "interpreter"

    @property
    def kernels(self):
        return self.lowered.kernels if self.lowered is not None else []

    @property
    def memory(self):
        return self._native.memory if self._native is not None else None

    def wait_compiled(self, timeout=None):
        """Block until native code runs (True) or is known not to (False); background mode only waits."""
        self._compiled.wait(timeout)
        return self._native is not None

    # ---- building ----
    def _prepare(self):
        from .build import Lowered, NotLowerable, blocking_nodes
        try:
            self.lowered = Lowered(self.graph, self._on_host)
        except NotLowerable as error:
            self._give_up(str(error))
            return
        blocking = blocking_nodes(self.graph, self._on_host)
        if blocking and config.debug_level(self._debug) >= 1:
            names = ", ".join(f"{n.op} at {n.loc}" for n in blocking)
            config.debug_print(f"{self.graph.name}: runs on the host between native segments: {names}")
        found = self.lowered.load_cached()
        if found is not None:
            self._install(found, cached=True)
            return
        if config.compile_mode() == "sync":
            self._compile()
        else:
            self.reason = "compiling in the background"
            thread = threading.Thread(target=self._compile_in_background, name=f"tracejit-compile-{self.graph.name}",
                                      daemon=True)
            _wait_at_exit()
            _compiling.add(thread)
            thread.start()

    def _compile_in_background(self):
        try:
            self._compile()
        finally:
            _compiling.discard(threading.current_thread())

    def _compile(self):
        try:
            code = self.lowered.compile()
        except KeyboardInterrupt:          # interrupted: stay on the interpreter, try again on a later trace
            self.reason = "native compilation was interrupted"
            raise
        except Exception as error:          # never leave a half-built executable: the interpreter tier stays
            self._give_up(f"native compilation failed: {type(error).__name__}: {str(error).splitlines()[0][:300]}")
            return
        self.compile_seconds = self.lowered.compile_seconds
        self._install(code, cached=False)

    def _install(self, code, cached):
        native = self.lowered.executable(code, self._lock)
        with self._lock:
            self._native = native
            self.run = native.run
            self.reason = None
        self._compiled.set()
        if config.debug_level(self._debug) >= 1:
            config.debug_print(f"{self.graph.name}: native code ready ({len(self.lowered.names)} segment(s), "
                               f"{'from the cache' if cached else f'compiled in {self.compile_seconds:.2f} s'})")
        if config.debug_level(self._debug) >= 3:
            config.debug_print(f"LLVM IR:\n{self.lowered.ir}")
            config.debug_print(f"driver:\n{native.driver_source}")

    def _give_up(self, reason):
        self.reason = reason
        self._compiled.set()
        if config.debug_level(self._debug) >= 1:
            config.debug_print(f"{self.graph.name}: runs on the interpreter: {reason}")
