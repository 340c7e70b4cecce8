"""LLVM IR text -> optimized object code -> callable functions, with llvmlite alone (no Numba):
parse, verify, optimize at O3 for this CPU, emit an object file; load an object file into an
MCJIT engine and look up its functions. Object code depends only on the IR and the CPU, so it is
what the cache keeps."""
import ctypes
import threading

SIGNATURE = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64)
_engines = []               # loaded code stays alive as long as the process
_lock = threading.Lock()    # LLVM's global state is not thread-safe
_machine = []


def _target_machine():
    import llvmlite.binding as llvm
    if not _machine:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        target = llvm.Target.from_default_triple()
        _machine.append(target.create_target_machine(
            cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(), opt=3,
            reloc="default", codemodel="jitdefault"))
    return _machine[0]


def compile_ir(text):
    """Object code of an LLVM IR module, optimized at O3 for this CPU."""
    import llvmlite.binding as llvm
    with _lock:
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
