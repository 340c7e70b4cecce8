"""LLVM IR text -> optimized object code -> callable functions, with llvmlite alone (no Numba):
parse, verify, optimize at O3 for this CPU, emit an object file; load an object file into an
MCJIT engine and look up its functions. Object code depends only on the IR and the CPU, so it is
what the cache keeps."""
import atexit
import ctypes
import functools
import threading

SIGNATURE = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64)
_engines = []               # loaded code stays alive as long as the process
_lock = threading.Lock()    # LLVM's global state is not thread-safe
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


def _target_machine():
    import llvmlite.binding as llvm
    if not _machine:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        target = llvm.Target.from_default_triple()
        name, features = llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten()
        _machine.append(target.create_target_machine(cpu=name, features=features, opt=3, reloc="default",
                                                     codemodel="jitdefault"))
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


def load(data, names):
    """{name: ctypes function} for the functions `names` of an object file."""
    import llvmlite.binding as llvm
    with _lock:
        _check_open()
        machine = _target_machine()
        engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), machine)
        engine.add_object_file(llvm.ObjectFileRef.from_data(data))
        engine.finalize_object()
        addresses = {name: engine.get_function_address(name) for name in names}
        _engines.append(engine)
    missing = [name for name, address in addresses.items() if not address]
    if missing:
        raise RuntimeError(f"object code lacks the functions {missing}")
    return {name: SIGNATURE(address) for name, address in addresses.items()}
