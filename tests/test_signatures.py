"""pretty_printed_concrete_signatures / pretty_printed_signature / repr(ConcreteFunction) as
TensorFlow 2.21 prints them (its FunctionType and trace types)."""
import re

import tracejit as tf

SPEC = "TensorSpec(shape={}, dtype=tf.{}, name=None)"


def test_verbose_text_lists_parameters_output_and_captures():
    v = tf.Variable(2.0)

    @tf.function
    def f(x, n, flag=None):
        return {"scaled": x * v * n, "none": None}, (x,)
    f(tf.constant([1.0, 2.0]), 3)
    assert f.pretty_printed_concrete_signatures() == "\n".join([
        "Input Parameters:",
        f"  x (POSITIONAL_OR_KEYWORD): {SPEC.format('(2,)', 'float32')}",
        "  n (POSITIONAL_OR_KEYWORD): Literal[3]",
        "  flag (POSITIONAL_OR_KEYWORD): Literal[None]",
        "Output Type:",
        f"  Tuple[Dict[['scaled', {SPEC.format('(2,)', 'float32')}], ['none', Literal[None]]], "
        f"Tuple[{SPEC.format('(2,)', 'float32')}]]",
        "Captures:",
        f"  {id(v)}: TensorSpec(shape=(), dtype=tf.resource, name=None)"])


def test_several_traces_and_the_short_form():
    f = tf.function(lambda x, *rest, **options: x)
    f(tf.constant(1), tf.constant([1.0]), b=tf.constant(True), a=[1, 2])
    f(tf.constant([[1.5]]))
    assert f.pretty_printed_concrete_signatures(verbose=False) == "\n".join([
        f"(x: {SPEC.format('()', 'int32')}, rest_0: {SPEC.format('(1,)', 'float32')}, /, *, "
        f"a: List[Literal[1], Literal[2]], b: {SPEC.format('()', 'bool')}) -> {SPEC.format('()', 'int32')}",
        f"(x: {SPEC.format('(1, 1)', 'float32')}, /) -> {SPEC.format('(1, 1)', 'float32')}"])
    assert f.pretty_printed_concrete_signatures().count("Input Parameters:") == 2
    assert "\n\n" in f.pretty_printed_concrete_signatures()


def test_input_signature_and_repr():
    f = tf.function(lambda x: x * 2.0, input_signature=[tf.TensorSpec([None, 3], tf.float32, name="images")])
    concrete = f.get_concrete_function()
    spec = "TensorSpec(shape=(None, 3), dtype=tf.float32, name='images')"
    assert concrete.pretty_printed_signature().splitlines()[1] == f"  x (POSITIONAL_OR_KEYWORD): {spec}"
    assert re.fullmatch(rf"<ConcreteFunction \(x: {re.escape(spec)}\) -> "
                        rf"{re.escape(SPEC.format('(None, 3)', 'float32'))} at 0x[0-9A-F]+>", repr(concrete))


def test_methods_do_not_show_self():
    class Doubler(tf.Module):
        @tf.function
        def __call__(self, x):
            return 2 * x
    d = Doubler()
    d(tf.constant(1.0))
    assert d.__call__.pretty_printed_concrete_signatures(verbose=False) == (
        f"(x: {SPEC.format('()', 'float32')}) -> {SPEC.format('()', 'float32')}")
