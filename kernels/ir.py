"""Typed scalar IR for native functions, built with llvmlite: values of a NumPy kind, arithmetic
with NumPy's semantics (nan comparisons, wrapping integers, nan-propagating maximum), pointer loads
and stores at element indices, counted loops and calls through function pointers.

A function has the C signature `int32 f(int64 *P, int64 chunk, int64 chunks)`: P holds addresses,
so the code embeds none and its object code can be cached and loaded in another process; `chunk`
and `chunks` let several threads share a parallel loop. Knows nothing of tracejit."""
import contextlib

from llvmlite import ir

_INT = {"i8": 8, "i16": 16, "i32": 32, "i64": 64, "u8": 8, "u16": 16, "u32": 32}
_FLOAT = {"f32": ir.FloatType(), "f64": ir.DoubleType()}
KIND_OF_DTYPE = {"float32": "f32", "float64": "f64", "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64",
                 "uint8": "u8", "bool": "bool"}
FAST = ("contract",)           # floating-point flags: fused multiply-add allowed, nothing else


def llvm_type(kind):
    if kind in _FLOAT:
        return _FLOAT[kind]
    if kind == "bool":
        return ir.IntType(1)
    return ir.IntType(_INT[kind])


def is_float(kind):
    return kind in _FLOAT


def is_signed(kind):
    return kind.startswith("i")


class Scalar:
    """An IR value and its kind. Python operators build IR, so math can be written once for
    Scalars and NumPy arrays alike (see kernels/mathfuncs.py)."""
    __slots__ = ("fn", "value", "kind")

    def __init__(self, fn, value, kind):
        self.fn, self.value, self.kind = fn, value, kind

    def _other(self, other):
        return other if isinstance(other, Scalar) else self.fn.const(other, self.kind)

    def __add__(self, other): return self.fn.arith("add", self, self._other(other))
    def __radd__(self, other): return self.fn.arith("add", self._other(other), self)
    def __sub__(self, other): return self.fn.arith("sub", self, self._other(other))
    def __rsub__(self, other): return self.fn.arith("sub", self._other(other), self)
    def __mul__(self, other): return self.fn.arith("mul", self, self._other(other))
    def __rmul__(self, other): return self.fn.arith("mul", self._other(other), self)
    def __truediv__(self, other): return self.fn.arith("div", self, self._other(other))
    def __rtruediv__(self, other): return self.fn.arith("div", self._other(other), self)
    def __and__(self, other): return self.fn.arith("and", self, self._other(other))
    def __or__(self, other): return self.fn.arith("or", self, self._other(other))
    def __xor__(self, other): return self.fn.arith("xor", self, self._other(other))
    def __lshift__(self, other): return self.fn.arith("shl", self, self._other(other))
    def __rshift__(self, other): return self.fn.arith("shr", self, self._other(other))
    def __neg__(self): return self.fn.negate(self)
    def __lt__(self, other): return self.fn.compare("<", self, self._other(other))
    def __le__(self, other): return self.fn.compare("<=", self, self._other(other))
    def __gt__(self, other): return self.fn.compare(">", self, self._other(other))
    def __ge__(self, other): return self.fn.compare(">=", self, self._other(other))
    def __eq__(self, other): return self.fn.compare("==", self, self._other(other))
    def __ne__(self, other): return self.fn.compare("!=", self, self._other(other))
    __hash__ = None


class Function:
    """Builds one native function. Loop variables and accumulators live in allocas that LLVM
    promotes to registers, so loops stay simple counted loops the vectorizer understands."""

    def __init__(self, module, name):
        i64 = ir.IntType(64)
        self.module = module
        self.function = ir.Function(module, ir.FunctionType(ir.IntType(32), [i64.as_pointer(), i64, i64]), name)
        self.slots, self.chunk, self.chunks = self.function.args
        for argument in (self.slots,):
            argument.add_attribute("noalias")
        self._entry = self.function.append_basic_block("entry")
        self.b = ir.IRBuilder(self.function.append_basic_block("body"))
        self._allocas = ir.IRBuilder(self._entry)
        self._declared = {}

    # ---- values ----
    def wrap(self, value, kind):
        return Scalar(self, value, kind)

    def const(self, value, kind):
        if kind == "bool":
            return Scalar(self, ir.Constant(ir.IntType(1), int(bool(value))), kind)
        if is_float(kind):
            return Scalar(self, ir.Constant(llvm_type(kind), float(value)), kind)
        return Scalar(self, ir.Constant(llvm_type(kind), int(value) & ((1 << _INT[kind]) - 1)), kind)

    def index(self, value):
        """An i64 index Scalar from a Python int or a Scalar."""
        return value if isinstance(value, Scalar) else self.const(value, "i64")

    def slot(self, i):
        """P[i] as an i64."""
        return Scalar(self, self.b.load(self.b.gep(self.slots, [ir.Constant(ir.IntType(64), i)])), "i64")

    def load_address(self, address):
        """The i64 stored at an i64 address (e.g. an ndarray object's data pointer)."""
        pointer = self.b.inttoptr(address.value, ir.IntType(64).as_pointer())
        return Scalar(self, self.b.load(pointer), "i64")

    # ---- arithmetic with NumPy semantics ----
    def arith(self, op, x, y):
        b, kind = self.b, x.kind
        if is_float(kind):
            name = {"add": "fadd", "sub": "fsub", "mul": "fmul", "div": "fdiv", "mod": "frem"}[op]
            return Scalar(self, getattr(b, name)(x.value, y.value, flags=FAST), kind)
        if kind == "bool":
            name = {"and": "and_", "or": "or_", "xor": "xor", "add": "or_", "mul": "and_"}[op]
            return Scalar(self, getattr(b, name)(x.value, y.value), kind)
        if op == "shr":
            return Scalar(self, (b.ashr if is_signed(kind) else b.lshr)(x.value, y.value), kind)
        name = {"add": "add", "sub": "sub", "mul": "mul", "and": "and_", "or": "or_", "xor": "xor", "shl": "shl"}[op]
        return Scalar(self, getattr(b, name)(x.value, y.value), kind)

    def negate(self, x):
        if is_float(x.kind):
            return Scalar(self, self.b.fneg(x.value, flags=FAST), x.kind)
        return Scalar(self, self.b.neg(x.value), x.kind)

    def compare(self, op, x, y):
        if is_float(x.kind):
            # NumPy: every comparison with nan is False except !=
            value = self.b.fcmp_unordered(op, x.value, y.value) if op == "!=" else \
                self.b.fcmp_ordered(op, x.value, y.value)
        elif is_signed(x.kind):
            value = self.b.icmp_signed(op, x.value, y.value)
        else:
            value = self.b.icmp_unsigned(op, x.value, y.value)
        return Scalar(self, value, "bool")

    def logical_not(self, x):
        return Scalar(self, self.b.not_(x.value), "bool")

    def select(self, condition, x, y):
        return Scalar(self, self.b.select(condition.value, x.value, y.value), x.kind)

    def cast(self, x, kind):
        """NumPy's astype: float->int truncates, int/bool->float exact or rounded, bool is x != 0."""
        b, source = self.b, x.kind
        if source == kind:
            return x
        target = llvm_type(kind)
        if kind == "bool":
            zero = self.const(0, source)
            return self.compare("!=", x, zero)
        if source == "bool":
            return Scalar(self, b.uitofp(x.value, target) if is_float(kind) else b.zext(x.value, target), kind)
        if is_float(source) and is_float(kind):
            grow = _FLOAT_WIDTH[kind] > _FLOAT_WIDTH[source]
            return Scalar(self, (b.fpext if grow else b.fptrunc)(x.value, target), kind)
        if is_float(source):
            return Scalar(self, (b.fptosi if is_signed(kind) else b.fptoui)(x.value, target), kind)
        if is_float(kind):
            return Scalar(self, (b.sitofp if is_signed(source) else b.uitofp)(x.value, target), kind)
        if _INT[kind] > _INT[source]:
            return Scalar(self, (b.sext if is_signed(source) else b.zext)(x.value, target), kind)
        if _INT[kind] < _INT[source]:
            return Scalar(self, b.trunc(x.value, target), kind)
        return Scalar(self, x.value, kind)          # same width, other signedness

    def bitcast(self, x, kind):
        return Scalar(self, self.b.bitcast(x.value, llvm_type(kind)), kind)

    def intrinsic(self, name, *args):
        """An LLVM math intrinsic (llvm.floor, llvm.sqrt, llvm.fabs, llvm.copysign, ...) on floats:
        the vectorizer knows them all."""
        kind = args[0].kind
        key = (name, kind)
        if key not in self._declared:
            t = llvm_type(kind)
            self._declared[key] = self.module.declare_intrinsic(f"llvm.{name}", [t],
                                                                ir.FunctionType(t, [t] * len(args)))
        return Scalar(self, self.b.call(self._declared[key], [a.value for a in args], fastmath=FAST), kind)

    def cycles(self):
        """The CPU's cycle counter (rdtsc on x86) as an i64 Scalar: for profiling builds."""
        if "readcyclecounter" not in self._declared:
            self._declared["readcyclecounter"] = self.module.declare_intrinsic(
                "llvm.readcyclecounter", (), ir.FunctionType(ir.IntType(64), []))
        return Scalar(self, self.b.call(self._declared["readcyclecounter"], []), "i64")

    # ---- float16 storage: bits in an i16, computed as float32 ----
    def half_to_float(self, bits):
        half = self.b.bitcast(bits.value, ir.HalfType())
        return Scalar(self, self.b.fpext(half, ir.FloatType()), "f32")

    def float_to_half(self, x):
        half = self.b.fptrunc(self.cast(x, "f32").value, ir.HalfType())
        return Scalar(self, self.b.bitcast(half, ir.IntType(16)), "u16")

    # ---- memory ----
    def pointer(self, address, kind):
        """A typed pointer from an i64 address."""
        return self.b.inttoptr(address.value, llvm_type(kind).as_pointer())

    def load(self, pointer, index, kind):
        element = self.b.gep(pointer, [self.index(index).value], inbounds=True)
        return Scalar(self, self.b.load(element), kind)

    def store(self, pointer, index, value):
        element = self.b.gep(pointer, [self.index(index).value], inbounds=True)
        self.b.store(value.value, element)

    def add_bytes(self, address, offset):
        return Scalar(self, self.b.add(address.value, ir.Constant(ir.IntType(64), offset)), "i64")

    # ---- variables and loops ----
    def variable(self, kind, initial=None):
        """A mutable local (an alloca LLVM promotes to a register)."""
        slot = self._allocas.alloca(llvm_type(kind))
        if initial is not None:
            self.b.store(initial.value, slot)
        return Variable(self, slot, kind)

    @contextlib.contextmanager
    def loop(self, start, stop):
        """for i in range(start, stop): yields i (an i64 Scalar)."""
        b = self.b
        counter = self.variable("i64", self.index(start))
        stop = self.index(stop)
        head = self.function.append_basic_block("loop")
        body = self.function.append_basic_block("loop_body")
        done = self.function.append_basic_block("loop_end")
        b.branch(head)
        b.position_at_end(head)
        i = counter.get()
        b.cbranch(b.icmp_signed("<", i.value, stop.value), body, done)
        b.position_at_end(body)
        yield i
        b.store(b.add(i.value, ir.Constant(ir.IntType(64), 1), flags=["nsw"]), counter.slot)
        b.branch(head)
        b.position_at_end(done)

    @contextlib.contextmanager
    def when(self, condition, likely=None):
        with self.b.if_then(condition.value, likely=likely):
            yield

    def call_address(self, address, return_type, argument_types, arguments):
        """Call the function at an i64 address (e.g. a BLAS entry point from P)."""
        fnty = ir.FunctionType(return_type, argument_types)
        callee = self.b.inttoptr(address.value, fnty.as_pointer())
        return self.b.call(callee, arguments)

    def finish(self, status=0):
        self.b.ret(ir.Constant(ir.IntType(32), status))
        ir.IRBuilder(self._entry).branch(self.function.blocks[1])     # allocas first, then the body


_FLOAT_WIDTH = {"f32": 32, "f64": 64}


class Variable:
    def __init__(self, fn, slot, kind):
        self.fn, self.slot, self.kind = fn, slot, kind

    def get(self):
        return Scalar(self.fn, self.fn.b.load(self.slot), self.kind)

    def set(self, value):
        self.fn.b.store(value.value, self.slot)


class IROps:
    """The operations math code needs beyond Python operators, on Scalars (see NumpyOps)."""

    def __init__(self, fn):
        self.fn = fn

    def floor(self, x): return self.fn.intrinsic("floor", x)
    def ceil(self, x): return self.fn.intrinsic("ceil", x)
    def rint(self, x): return self.fn.intrinsic("rint", x)
    def sqrt(self, x): return self.fn.intrinsic("sqrt", x)
    def fabs(self, x): return self.fn.intrinsic("fabs", x)
    def sin(self, x): return self.fn.intrinsic("sin", x)
    def cos(self, x): return self.fn.intrinsic("cos", x)
    def copysign(self, x, sign): return self.fn.intrinsic("copysign", x, sign)
    def where(self, condition, x, y): return self.fn.select(condition, x, y)
    def to_int(self, x, kind): return self.fn.cast(x, kind)
    def to_float(self, x, kind): return self.fn.cast(x, kind)
    def bits_to_float(self, bits, kind): return self.fn.bitcast(bits, kind)
    def float_to_bits(self, x, kind): return self.fn.bitcast(x, kind)
    def const(self, value, like): return self.fn.const(value, like.kind)
    def isnan(self, x): return self.fn.compare("!=", x, x)
    def kind(self, x): return x.kind
