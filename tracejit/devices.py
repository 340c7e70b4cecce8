"""Devices: tracejit computes on the CPU. `tf.device(name)` validates the device string and records
the placement request (per thread, nested like TF's); ops still run on the CPU, as TF's soft
placement does when the requested device does not exist. tf.config lists the one CPU."""
import collections
import contextlib
import threading

PhysicalDevice = collections.namedtuple("PhysicalDevice", ["name", "device_type"])
LogicalDevice = collections.namedtuple("LogicalDevice", ["name", "device_type"])

CPU = PhysicalDevice(name="/physical_device:CPU:0", device_type="CPU")
CPU_LOGICAL = LogicalDevice(name="/device:CPU:0", device_type="CPU")
_DEVICE_TYPES = ("CPU", "GPU", "TPU")


def canonical_device(spec):
    """'/job:a/replica:0/task:0/device:GPU:1', 'gpu:1', 'CPU', ... -> the canonical spelling, as TF's
    DeviceSpec.from_string parses it. An unknown part is a ValueError."""
    parts, device = [], None
    for part in str(spec).split("/"):
        if not part:
            continue
        fields = part.split(":")
        head = fields[0].lower()
        if head in ("job", "replica", "task") and len(fields) == 2:
            parts.append(f"/{head}:{fields[1]}")
        elif fields[0].upper() in _DEVICE_TYPES and len(fields) <= 2:
            device = (fields[0].upper(), fields[1] if len(fields) == 2 else "0")
        elif head == "device" and len(fields) == 3 and fields[1].upper() in _DEVICE_TYPES:
            device = (fields[1].upper(), fields[2])
        else:
            raise ValueError(f"Unknown attribute '{fields[0]}' is encountered while parsing the device spec: "
                             f"'{spec}'.")
    if device is not None:
        if device[1] != "*" and not device[1].isdigit():
            raise ValueError(f"Invalid device index '{device[1]}' in the device spec: '{spec}'.")
        parts.append(f"/device:{device[0]}:{device[1]}")
    return "".join(parts)


class _Requests(threading.local):
    def __init__(self):
        self.stack = []


_requests = _Requests()


@contextlib.contextmanager
def device(device_name):
    """Record a placement request for the ops created inside (they run on the CPU)."""
    if callable(device_name):
        raise RuntimeError("tf.device does not support functions when eager execution is enabled.")
    _requests.stack.append("" if device_name is None else canonical_device(device_name))
    try:
        yield
    finally:
        _requests.stack.pop()


def requested_device():
    """The innermost placement request on this thread ('' when there is none, or inside device(None))."""
    return _requests.stack[-1] if _requests.stack else ""


def list_physical_devices(device_type=None):
    return [CPU] if device_type is None or str(device_type).upper() == "CPU" else []


def list_logical_devices(device_type=None):
    return [CPU_LOGICAL] if device_type is None or str(device_type).upper() == "CPU" else []
