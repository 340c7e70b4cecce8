"""LLVM IR text -> optimized object code -> callable functions, with llvmlite alone (no Numba):
parse, verify, optimize at O3 for this CPU, emit an object file; load an object file into an
MCJIT engine and look up its functions. Object code depends only on the IR and the CPU, so it is
what the cache keeps."""
import atexit
import ctypes
import functools
import threading

SIGNATURE = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64)
# LLVM's global state is not thread-safe. Reentrant: freeing loaded code (LoadedCode.__del__) may
# run from a garbage collection started inside a locked section.
_lock = threading.RLock()
_machine = []
_closing = []               # set at exit: LLVM must not run while the interpreter tears down


@atexit.register
def _stop_llvm_work():
    """A background compile still running at exit would use LLVM during interpreter teardown (a
    crash): wait for the one in progress, refuse new ones."""
    with _lock:
        _closing.append(True)


def _check_open():
    if _closing:
        raise RuntimeError("the interpreter is exiting: no more native compilation")


@functools.lru_cache(maxsize=None)
def host_cpu():
    """(name, features) of this CPU, as LLVM sees it."""
    import llvmlite.binding as llvm
    with _lock:
        return llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten()


def _new_target_machine():
    """A target machine for this CPU. An MCJIT engine takes ownership of (and frees) the one it is
    created with, so each engine gets its own; compilation shares one."""
    import llvmlite.binding as llvm
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    target = llvm.Target.from_default_triple()
    name, features = host_cpu()
    return target.create_target_machine(cpu=name, features=features, opt=3, reloc="default",
                                        codemodel="jitdefault")


def _target_machine():
    if not _machine:
        _machine.append(_new_target_machine())
    return _machine[0]


def compile_ir(text):
    """Object code of an LLVM IR module, optimized at O3 for this CPU."""
    import llvmlite.binding as llvm
    with _lock:
        _check_open()
        machine = _target_machine()
        module = llvm.parse_assembly(text)
        module.triple = machine.triple
        module.data_layout = str(machine.target_data)
        module.verify()
        tuning = llvm.create_pipeline_tuning_options(speed_level=3)
        tuning.loop_vectorization = True
        tuning.slp_vectorization = True
        builder = llvm.create_pass_builder(machine, tuning)
        builder.getModulePassManager().run(module, builder)
        return machine.emit_object(module)


class LoadedCode:
    """Object code loaded into its own MCJIT engine; the code is freed with this object, so
    whatever calls into it (a driver, a builtin entry) holds a reference to it."""

    def __init__(self, data):
        import llvmlite.binding as llvm
        with _lock:
            _check_open()
            self._engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), _new_target_machine())
            self._engine.add_object_file(llvm.ObjectFileRef.from_data(data))
            self._engine.finalize_object()

    def address(self, name):
        with _lock:
            address = self._engine.get_function_address(name)
        if not address:
            raise RuntimeError(f"object code lacks the function {name}")
        return address

    def global_address(self, name):
        with _lock:
            return self._engine.get_global_value_address(name)

    def function(self, name):
        """The segment function `name` as a ctypes function (which releases the GIL while it runs)."""
        return SIGNATURE(self.address(name))

    def __del__(self):
        engine = getattr(self, "_engine", None)
        if engine is not None and not _closing:
            with _lock:
                engine.close()


_CYCLES_IR = """
declare i64 @llvm.readcyclecounter()
define i64 @cycles() {
  %t = call i64 @llvm.readcyclecounter()
  ret i64 %t
}
"""


@functools.lru_cache(maxsize=None)
def cycles_per_second():
    """Cycle counter ticks per second, against time.perf_counter over 50 ms (the counter of x86
    CPUs with constant_tsc runs at a fixed rate whatever the clock speed)."""
    import time
    code = LoadedCode(compile_ir(_CYCLES_IR))
    cycles = ctypes.CFUNCTYPE(ctypes.c_int64)(code.address("cycles"))
    start_time, start = time.perf_counter(), cycles()
    time.sleep(0.05)
    end_time, end = time.perf_counter(), cycles()
    return (end - start) / (end_time - start_time)
