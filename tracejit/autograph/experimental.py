"""tf.autograph.experimental: do_not_convert and set_loop_options."""
import functools


def do_not_convert(func=None):
    """Decorator: `func` is never converted; converted code calls it as plain Python, and so
    whatever it calls is not converted either. Usable as @do_not_convert and @do_not_convert()."""
    if func is None:
        return do_not_convert
    try:
        func.__ag_do_not_convert__ = True
        return func
    except (AttributeError, TypeError):              # a builtin or a bound method: wrap it
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            return func(*args, **kwargs)
        wrapper.__ag_do_not_convert__ = True
        return wrapper


def set_loop_options(parallel_iterations=None, swap_memory=None, maximum_iterations=None, shape_invariants=None):
    """Options for the while_loop of the converted loop whose body starts with this call
    (AutoGraph removes the call and passes the options on). `shape_invariants` is a list of
    (variable, shape) pairs. Outside converted code it does nothing, as in TF."""
    del parallel_iterations, swap_memory, maximum_iterations, shape_invariants
