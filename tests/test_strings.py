"""String tensors end to end: constants and their repr, + and ==, tf.strings.*, tf.io.decode_raw,
eagerly and inside @function (where string nodes run on their NumPy implementation). Expected
values are the examples of TF's documentation."""
import numpy as np
import pytest

import tracejit as tf


def _list(t):
    return t.numpy().tolist()


def test_constants_and_repr():
    t = tf.constant("hello")
    assert repr(t) == "<tf.Tensor: shape=(), dtype=string, numpy=b'hello'>"
    assert str(t) == "tf.Tensor(b'hello', shape=(), dtype=string)"
    assert t.dtype == tf.string and t.numpy() == b"hello"
    v = tf.constant(["a", b"b\x00"])
    assert repr(v) == "<tf.Tensor: shape=(2,), dtype=string, numpy=array([b'a', b'b\\x00'], dtype=object)>"
    assert tf.constant("café").numpy() == "café".encode()        # str is encoded as UTF-8
    assert tf.constant(b"\x01\x00\x00").numpy() == b"\x01\x00\x00"  # trailing NUL bytes are kept


def test_concatenation_and_comparison():
    a = tf.constant(["x", "y"])
    assert _list(a + "!") == [b"x!", b"y!"]
    assert _list("<" + a) == [b"<x", b"<y"]
    assert _list(a == "x") == [True, False] and _list(a != "x") == [False, True]
    assert (tf.constant("a") == tf.constant("a")).dtype == tf.bool
    with pytest.raises(tf.errors.InvalidArgumentError, match="subtract does not support dtype string"):
        a - a
    with pytest.raises(tf.errors.InvalidArgumentError, match="expected to be a string tensor"):
        a + tf.constant(1)


def test_join():
    assert tf.strings.join(["abc", "def"]).numpy() == b"abcdef"
    joined = tf.strings.join([["abc", "123"], ["def", "456"], ["ghi", "789"]], separator=".")
    assert _list(joined) == [b"abc.def.ghi", b"123.456.789"]


def test_length_lower_upper():
    assert _list(tf.strings.length(["Hello", "TensorFlow", "\U0001F642"])) == [5, 10, 4]
    assert _list(tf.strings.length(["Hello", "TensorFlow", "\U0001F642"], unit="UTF8_CHAR")) == [5, 10, 1]
    assert tf.strings.length("a").dtype == tf.int32
    assert tf.strings.lower("CamelCase string and ALL CAPS").numpy() == b"camelcase string and all caps"
    assert tf.strings.upper("CamelCase string and ALL CAPS").numpy() == b"CAMELCASE STRING AND ALL CAPS"
    assert tf.strings.lower("ÀB").numpy() == "Àb".encode()               # ASCII only by default
    assert tf.strings.lower("ÀB", encoding="utf-8").numpy() == "àb".encode()


def test_substr():
    assert _list(tf.strings.substr([b"Hello", b"World"], 1, 3)) == [b"ell", b"orl"]
    assert _list(tf.strings.substr([b"Hello", b"World"], [1, 2], [3, 4])) == [b"ell", b"rld"]
    assert tf.strings.substr("Hello", -3, 2).numpy() == b"ll"
    assert tf.strings.substr("Hello", 1, 10).numpy() == b"ello"
    assert tf.strings.substr("héllo", 1, 2, unit="UTF8_CHAR").numpy() == "él".encode()
    with pytest.raises(tf.errors.InvalidArgumentError, match="pos 6 out of range"):
        tf.strings.substr("Hello", 6, 1)


def test_regex_replace():
    out = tf.strings.regex_replace("Text with tags.<br /><b>contains html</b>", "<[^>]+>", " ")
    assert out.numpy() == b"Text with tags.  contains html "
    assert tf.strings.regex_replace("aaa", "a", "b", replace_global=False).numpy() == b"baa"
    assert tf.strings.regex_replace("x=12, y=3", r"(\w)=(\d+)", r"\2:\1").numpy() == b"12:x, 3:y"
    assert tf.strings.regex_replace("ab", "b", r"[\0\\]").numpy() == b"a[b\\]"


def test_as_string_and_to_number():
    assert _list(tf.strings.as_string([3, 2])) == [b"3", b"2"]
    assert _list(tf.strings.as_string([3.1415926, 2.71828], precision=2)) == [b"3.14", b"2.72"]
    assert tf.strings.as_string(3.5).numpy() == b"3.500000"
    assert tf.strings.as_string(7, width=3, fill="0").numpy() == b"007"
    assert tf.strings.as_string(1234.5, scientific=True).numpy() == b"1.234500e+03"
    assert tf.strings.as_string(0.5, shortest=True).numpy() == b"0.5"
    assert _list(tf.strings.as_string([True, False])) == [b"true", b"false"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="precision"):
        tf.strings.as_string(3, precision=2)
    x = tf.strings.to_number("1.55")
    assert x.dtype == tf.float32 and x.numpy() == np.float32(1.55)
    assert tf.strings.to_number("3", tf.int32).numpy() == 3
    assert _list(tf.strings.to_number(["-2e3", " 4"], tf.float64)) == [-2000.0, 4.0]
    with pytest.raises(tf.errors.InvalidArgumentError, match="could not correctly convert string: abc"):
        tf.strings.to_number("abc")
    with pytest.raises(tf.errors.InvalidArgumentError, match="could not correctly convert string: 1.5"):
        tf.strings.to_number("1.5", tf.int32)


def test_format():
    assert tf.strings.format("tensor: {}, suffix", tf.range(5)).numpy() == b"tensor: [0 1 2 3 4], suffix"
    assert tf.strings.format("{}", tf.range(10)).numpy() == b"[0 1 2 ... 7 8 9]"
    assert tf.strings.format("{}", tf.range(10), summarize=-1).numpy() == b"[0 1 2 3 4 5 6 7 8 9]"
    assert tf.strings.format("{} and {}", (tf.constant([[1.5, 2.0], [3.0, 4.25]]), "hi")).numpy() == (
        b'[[1.5 2]\n [3 4.25]] and "hi"')
    assert tf.strings.format("{}", 1.0 / 3).numpy() == b"0.333333343"       # float32, round-trip digits
    with pytest.raises(tf.errors.InvalidArgumentError, match="2 placeholders but 1 inputs"):
        tf.strings.format("{} {}", 1)


def test_split():
    assert _list(tf.strings.split("hello world")) == [b"hello", b"world"]
    ragged = tf.strings.split(["hello world", "a b c"])
    assert isinstance(ragged, tf.RaggedTensor)
    assert repr(ragged) == "<tf.RaggedTensor [[b'hello', b'world'], [b'a', b'b', b'c']]>"
    assert ragged.shape == [2, None]
    assert _list(tf.strings.split("1<>2<><>3", sep="<>")) == [b"1", b"2", b"", b"3"]
    assert tf.strings.split(["1,2,3", "4,5,6"], sep=",", maxsplit=1).to_list() == [[b"1", b"2,3"], [b"4", b"5,6"]]
    assert tf.strings.split([["a b", "c"], ["", "d  e"]]).to_list() == [[[b"a", b"b"], [b"c"]], [[], [b"d", b"e"]]]


def test_decode_raw():
    assert _list(tf.io.decode_raw(b"\x01\x02", tf.uint8)) == [1, 2]
    data = tf.constant([np.array([1, -2], np.int32).tobytes(), np.array([3, 4], np.int32).tobytes()])
    decoded = tf.io.decode_raw(data, tf.int32)
    assert decoded.shape == (2, 2) and _list(decoded) == [[1, -2], [3, 4]]
    assert _list(tf.io.decode_raw(np.array([1.5], ">f4").tobytes(), tf.float32, little_endian=False)) == [1.5]
    with pytest.raises(tf.errors.InvalidArgumentError, match="same size"):
        tf.io.decode_raw(["ab", "abcd"], tf.uint8)
    with pytest.raises(tf.errors.InvalidArgumentError, match="not a multiple of 4"):
        tf.io.decode_raw("abc", tf.int32)


def _pipeline(lines):
    """A text-processing step: every kind of string op in one function."""
    words = tf.strings.split(tf.strings.lower(lines))
    counts = words.row_lengths()
    first = tf.strings.substr(words.to_tensor(default_value="-")[:, 0], 0, 3)
    label = tf.strings.join([first, tf.strings.as_string(counts)], separator=":")
    cleaned = tf.strings.regex_replace(lines, "[^a-zA-Z ]", "") + "."
    numbers = tf.strings.to_number(tf.strings.regex_replace(lines, "[^0-9]", ""), tf.int32)
    raw = tf.io.decode_raw(tf.strings.substr(lines, 0, 2), tf.uint8)
    return label, cleaned, numbers, raw, tf.strings.length(lines), lines == "Seven 7 words"


def test_string_ops_inside_function_match_eager():
    lines = tf.constant(["Hello World 42", "Seven 7 words"])
    eager = _pipeline(lines)
    compiled = tf.function(_pipeline)
    traced = compiled(lines)
    for e, t in zip(eager, traced):
        assert t.dtype == e.dtype and t.shape == e.shape
        np.testing.assert_array_equal(t.numpy(), e.numpy())
    assert _list(traced[0]) == [b"hel:3", b"sev:3"]
    assert _list(traced[1]) == [b"Hello World .", b"Seven  words."]
    assert _list(traced[2]) == [42, 7] and _list(traced[3]) == [[72, 101], [83, 101]]
    graph = str(compiled.get_concrete_function(lines).graph)
    for op in ("string_split_values", "string_lower", "substr", "string_join", "regex_replace", "to_number",
               "decode_raw", "as_string", "string_length", "ragged_to_dense"):
        assert op in graph


def test_string_arguments_and_results_of_functions():
    greet = tf.function(lambda name: tf.strings.format("Hello, {}!", name))
    assert greet(tf.constant("World")).numpy() == b'Hello, "World"!'
    assert greet(tf.constant("tf")).numpy() == b'Hello, "tf"!'
    assert greet.experimental_get_tracing_count() == 1          # same signature: string[]
    concat = tf.function(lambda a, b: a + b)
    assert _list(concat(tf.constant(["a", "b"]), tf.constant("c"))) == [b"ac", b"bc"]


def test_string_datasets():
    ds = tf.data.Dataset.from_tensor_slices(["the cat", "a dog sat"])
    first = next(iter(ds))
    assert first.dtype == tf.string and first.numpy() == b"the cat"
    assert list(ds.as_numpy_iterator()) == [b"the cat", b"a dog sat"]
    words = ds.map(lambda line: tf.strings.length(tf.strings.upper(line)))
    assert [int(n) for n in words] == [7, 9]
    batch = next(iter(ds.batch(2)))
    assert batch.dtype == tf.string and _list(batch) == [b"the cat", b"a dog sat"]


def test_values_that_are_not_numbers_or_strings_do_not_convert():
    for value, message in (([1, "a"], "mixed types"), (None, "unsupported type"), (object(), "unsupported type"),
                           (tf.ragged.constant([[1], [2, 3]]), "unsupported type")):
        with pytest.raises(ValueError, match=message):        # TF's errors and messages
            tf.constant(value)
