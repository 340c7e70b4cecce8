"""Python entry points for short native segments.

A ctypes call costs ~0.45 us here (argument conversion, GIL release and reacquire); a CPython
builtin with METH_FASTCALL costs ~0.05 us. A segment doing little work is therefore called as a
builtin whose native body takes the call's arrays as arguments, stores their object addresses in
the slot array (the driver's `P[i] = id(array)` in native code) and runs the segment with the GIL
held. Segments doing real work keep the ctypes call, which releases the GIL for their duration
so other Python threads (input pipelines, background compiles) run meanwhile.

The object code stays position independent of the process: the slot array's address and
PyLong_FromLong's address are module globals written after loading."""
import ctypes

from kernels.blas import ARRAY_FLAGS_OFFSET, C_CONTIGUOUS_FLAG

ENTRY_MAX_WORK = 1 << 20        # flops + bytes of a segment called with the GIL held (~tens of us at most)
NOT_CONTIGUOUS = -1             # the status of an entry given an input array that is not C-contiguous
SLOTS_GLOBAL = "tracejit_slots"
LONG_GLOBAL = "tracejit_long_from_int"
_METH_FASTCALL = 0x0080

def entry_name(segment_name):
    return f"py_{segment_name}"


def _global(module, name, kind):
    from llvmlite import ir
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    variable = ir.GlobalVariable(module, kind, name)
    variable.initializer = ir.Constant(kind, None)      # not constant: LLVM must not fold its value
    return variable


def add_entry(module, segment, argument_slots, checked):
    """Emit `PyObject *py_<segment>(PyObject *self, PyObject *const *args, Py_ssize_t nargs)`:
    P[argument_slots[k]] = args[k]; return PyLong_FromLong(segment(P, 0, 1)). Arguments whose
    `checked` flag is set (the caller's inputs) must be C-contiguous, else nothing runs and the
    status is NOT_CONTIGUOUS: the driver then makes them contiguous and calls again."""
    from llvmlite import ir
    _i8p, _i64 = ir.IntType(8).as_pointer(), ir.IntType(64)
    long_type = ir.FunctionType(_i8p, [_i64])
    slots = _global(module, SLOTS_GLOBAL, _i64)
    from_long = _global(module, LONG_GLOBAL, long_type.as_pointer())
    function = ir.Function(module, ir.FunctionType(_i8p, [_i8p, _i8p.as_pointer(), _i64]), entry_name(segment.name))
    b = ir.IRBuilder(function.append_basic_block("entry"))
    table = b.inttoptr(b.load(slots), _i64.as_pointer())
    args = function.args[1]
    addresses = [b.ptrtoint(b.load(b.gep(args, [ir.Constant(_i64, k)])), _i64) for k in range(len(argument_slots))]
    i32 = ir.IntType(32)
    for address, check in zip(addresses, checked):
        if check:
            flags = b.load(b.inttoptr(b.add(address, ir.Constant(_i64, ARRAY_FLAGS_OFFSET)), i32.as_pointer()))
            contiguous = b.icmp_unsigned("!=", b.and_(flags, ir.Constant(i32, C_CONTIGUOUS_FLAG)), ir.Constant(i32, 0))
            with b.if_then(b.not_(contiguous), likely=False):
                b.ret(b.call(b.load(from_long), [ir.Constant(_i64, NOT_CONTIGUOUS)]))
    for address, slot in zip(addresses, argument_slots):
        b.store(address, b.gep(table, [ir.Constant(_i64, slot)]))
    status = b.call(segment, [table, ir.Constant(_i64, 0), ir.Constant(_i64, 1)])
    b.ret(b.call(b.load(from_long), [b.sext(status, _i64)]))


class _MethodDef(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("method", ctypes.c_void_p), ("flags", ctypes.c_int),
                ("doc", ctypes.c_char_p)]


_new_builtin = ctypes.pythonapi.PyCFunction_NewEx
_new_builtin.restype = ctypes.py_object
_new_builtin.argtypes = [ctypes.c_void_p, ctypes.py_object, ctypes.py_object]


def set_globals(code, slots_address):
    """Write the process-specific globals of loaded object code that has entries."""
    ctypes.c_int64.from_address(code.global_address(SLOTS_GLOBAL)).value = slots_address
    long_from_int = ctypes.cast(ctypes.pythonapi.PyLong_FromLong, ctypes.c_void_p).value
    ctypes.c_void_p.from_address(code.global_address(LONG_GLOBAL)).value = long_from_int


def builtin(code, segment_name):
    """The entry of `segment_name` as a Python builtin. Its `self` holds the method table and the
    loaded code, so neither is freed while the builtin exists."""
    name = entry_name(segment_name).encode()
    definition = _MethodDef(name, code.address(entry_name(segment_name)), _METH_FASTCALL, None)
    return _new_builtin(ctypes.addressof(definition), (definition, name, code), None)
