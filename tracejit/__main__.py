"""Command line (also `python -m tracejit ...`):

  tracejit cache info | clear          the on-disk cache of compiled kernels
  tracejit graph FILE.py:func --args "tf.zeros([2,3])" ... [--optimized] [-o out.svg]
                                       draw the graph `func` traces to for those arguments: SVG (or
                                       any format Graphviz's `dot` writes) when `dot` is installed,
                                       DOT text otherwise
"""
import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="tracejit", description="tracejit utilities")
    sub = parser.add_subparsers(dest="command", required=True)
    cache_parser = sub.add_parser("cache", help="the on-disk cache of compiled kernels")
    cache_parser.add_argument("action", choices=["info", "clear"])
    graph_parser = sub.add_parser("graph", help="draw the graph a function traces to")
    graph_parser.add_argument("target", help="FILE.py:function (a @function or a plain Python function)")
    graph_parser.add_argument("--args", nargs="*", default=[], metavar="EXPR",
                              help='Python expressions for the arguments, with tf and np available: "tf.zeros([2,3])"')
    graph_parser.add_argument("--optimized", action="store_true", help="the graph after the passes (fused groups as "
                              "clusters) instead of the traced one")
    graph_parser.add_argument("-o", "--output", help="output file; its extension picks the format (svg, png, pdf, "
                              "dot). Default: DOT text on stdout")
    args = parser.parse_args(argv)
    if args.command == "cache":
        return _cache(args.action)
    return _graph(args)


def _cache(action):
    from .backend.native import cache
    if action == "info":
        print(json.dumps(cache.info(), indent=2))
    else:
        before = cache.info()
        cache.clear()
        print(f"removed {before['native_entries']} native code entries, {before['bytes']} bytes from {before['directory']}")
    return 0


def _graph(args):
    import numpy as np
    import tracejit as tf
    path, _, name = args.target.rpartition(":")
    if not path or not name:
        raise SystemExit(f"tracejit graph: expected FILE.py:function, got {args.target!r}")
    module = _load_module(path)
    function = _attribute(module, name)
    if not isinstance(function, tf.jit.Function):
        function = tf.function(function)
    namespace = {**vars(module), "tf": tf, "tracejit": tf, "np": np}
    call_args = [eval(expr, namespace) for expr in args.args]      # the user's own expressions, by design
    concrete = function.get_concrete_function(*call_args)
    dot = (concrete.optimized_graph if args.optimized else concrete.graph).to_dot()
    if not args.output:
        sys.stdout.write(dot)
        return 0
    return _write_picture(dot, args.output)


def _load_module(path):
    if not os.path.exists(path):
        raise SystemExit(f"tracejit graph: no such file {path!r}")
    spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(path))[0], path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))     # so the file's own imports resolve
    spec.loader.exec_module(module)
    return module


def _attribute(module, dotted):
    value = module
    for part in dotted.split("."):
        if not hasattr(value, part):
            raise SystemExit(f"tracejit graph: {module.__file__} has no {dotted!r}")
        value = getattr(value, part)
    return value


def _write_picture(dot, output):
    """Render with Graphviz when it is installed and a picture format was asked for, else DOT text."""
    fmt = os.path.splitext(output)[1].lstrip(".").lower() or "dot"
    if fmt != "dot" and shutil.which("dot"):
        subprocess.run(["dot", f"-T{fmt}", "-o", output], input=dot.encode(), check=True)
        print(f"wrote {output} ({fmt}, rendered by Graphviz)")
        return 0
    if fmt != "dot":
        output = os.path.splitext(output)[0] + ".dot"
        print(f"Graphviz's `dot` is not installed: writing DOT text to {output} instead "
              "(render it with `dot -Tsvg`, or install graphviz)", file=sys.stderr)
    with open(output, "w") as file:
        file.write(dot)
    print(f"wrote {output} (DOT text)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
