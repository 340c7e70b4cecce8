"""Model (subclassing with `call`) and Sequential, with compile / fit / evaluate / predict /
summary / save_weights / load_weights. fit and evaluate run their steps as @function."""
import sys
import time
import zipfile

import numpy as np

from .. import ops
from ..autodiff import GradientTape
from ..errors import DataLossError
from ..fileio import atomic_write, npz_bytes
from ..jit import function
from ..tensor import Tensor
from . import callbacks as callbacks_module
from . import losses as losses_module
from . import metrics as metrics_module
from . import optimizers as optimizers_module
from .layers import InputLayer, Layer


class Model(Layer):
    def __init__(self, *args, **kwargs):
        if args or "inputs" in kwargs:
            raise NotImplementedError("the functional API Model(inputs, outputs) is not supported yet; "
                                      "subclass Model or use Sequential")
        super().__init__(**kwargs)
        self.compiled, self.stop_training = False, False

    def _sublayers(self):
        found = []
        for value in vars(self).values():
            for item in (value if isinstance(value, (list, tuple)) else [value]):
                if isinstance(item, Layer) and item is not self and not any(item is f for f in found):
                    found.append(item)
        return found

    @property
    def layers(self):
        return self._sublayers()

    # ---- training ----
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, run_eagerly=False):
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = losses_module.get(loss) if loss is not None else None
        self.metrics_list = [metrics_module.get(m, self.loss) for m in (metrics or [])]
        self.loss_tracker = metrics_module.Mean(name="loss")
        self.run_eagerly = run_eagerly
        self._train_function = self._test_function = None
        self.compiled = True

    def _require_compiled(self, what):
        if not getattr(self, "compiled", False) or self.loss is None:
            raise RuntimeError(f"You must compile your model with a loss before calling {what}()")

    def _train_step(self, x, y):
        with GradientTape() as tape:
            predictions = self(x, training=True)
            loss = self.loss(y, predictions)
        variables = self.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return self._update_metrics(loss, y, predictions)

    def _test_step(self, x, y):
        predictions = self(x, training=False)
        return self._update_metrics(self.loss(y, predictions), y, predictions)

    def _update_metrics(self, loss, y, predictions):
        self.loss_tracker.update_state(loss)
        for metric in self.metrics_list:
            metric.update_state(y, predictions)
        return {"loss": self.loss_tracker.result(), **{m.name: m.result() for m in self.metrics_list}}

    def _reset_metrics(self):
        for metric in [self.loss_tracker] + self.metrics_list:
            metric.reset_state()

    def _step_function(self, kind):
        attribute = f"_{kind}_function"
        if getattr(self, attribute, None) is None:
            step = self._train_step if kind == "train" else self._test_step
            setattr(self, attribute, step if self.run_eagerly else function(step))
        return getattr(self, attribute)

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose=1, callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, initial_epoch=0, steps_per_epoch=None):
        self._require_compiled("fit")
        _check_cardinality(x, y)
        if validation_split and validation_data is None:
            if not 0 < validation_split < 1:
                raise ValueError(f"validation_split must be in (0, 1), got {validation_split}")
            x, y = np.asarray(x), np.asarray(y)
            split = int(len(x) * (1 - validation_split))
            x, y, validation_data = x[:split], y[:split], (x[split:], y[split:])
        history = callbacks_module.History()
        all_callbacks = [history] + list(callbacks or [])
        for cb in all_callbacks:
            cb.set_model(self)
            cb.on_train_begin()
        train = self._step_function("train")
        self.stop_training = False
        for epoch in range(initial_epoch, epochs):
            for cb in all_callbacks:
                cb.on_epoch_begin(epoch)
            self._reset_metrics()
            batches = list(_batches(x, y, batch_size or 32, shuffle))
            bar = _ProgressBar(len(batches), verbose, f"Epoch {epoch + 1}/{epochs}")
            logs = {}
            for i, (xb, yb) in enumerate(batches):
                logs = train(xb, yb)
                bar.update(i + 1, logs)
            logs = {k: float(v) for k, v in logs.items()}
            if validation_data is not None:
                val = self.evaluate(*validation_data, batch_size=batch_size or 32, verbose=0, return_dict=True)
                logs.update({f"val_{k}": v for k, v in val.items()})
            bar.finish(logs)
            for cb in all_callbacks:
                cb.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        for cb in all_callbacks:
            cb.on_train_end()
        self.history = history
        return history

    def evaluate(self, x=None, y=None, batch_size=None, verbose=1, return_dict=False):
        self._require_compiled("evaluate")
        _check_cardinality(x, y)
        test = self._step_function("test")
        self._reset_metrics()
        batches = list(_batches(x, y, batch_size or 32, shuffle=False))
        bar = _ProgressBar(len(batches), verbose, "")
        logs = {}
        for i, (xb, yb) in enumerate(batches):
            logs = test(xb, yb)
            bar.update(i + 1, logs)
        logs = {k: float(v) for k, v in logs.items()}
        bar.finish(logs)
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose=0):
        if not hasattr(self, "_predict_function"):
            self._predict_function = function(lambda xb: self(xb, training=False))
        outputs = [self._predict_function(xb).numpy() for xb, _ in _batches(x, None, batch_size or 32, False)]
        return np.concatenate(outputs, axis=0)

    def __call__(self, inputs, *args, training=None, **kwargs):
        return super().__call__(inputs, *args, training=training, **kwargs)

    # ---- weights ----
    def save_weights(self, filepath, overwrite=True, save_format=None):
        """An .npz archive: one array per variable, keyed by position and name."""
        weights = self.weights
        if not weights:
            raise ValueError(f"{self.name}: the model has no weights yet (call it on data or build it first)")
        arrays = {f"{i:04d}:{w.name}": w.numpy() for i, w in enumerate(weights)}
        atomic_write(filepath, npz_bytes(arrays))      # a crash leaves the old file or the new one

    def load_weights(self, filepath):
        try:
            with np.load(filepath) as archive:
                arrays = [archive[key] for key in sorted(archive.files, key=_weight_position)]
        except FileNotFoundError:
            raise
        except (zipfile.BadZipFile, EOFError, ValueError, OSError) as error:       # truncated, corrupt, not .npz
            raise DataLossError(f"{filepath} is not a readable weights archive (.npz written by save_weights): "
                                f"{type(error).__name__}: {error}") from None
        weights = self.weights
        if len(arrays) != len(weights):
            raise ValueError(f"{filepath} holds {len(arrays)} weight arrays; the model has {len(weights)}")
        for w, a in zip(weights, arrays):
            if tuple(w.shape) != a.shape:
                raise ValueError(f"{filepath}: shape mismatch for {w.name}: {a.shape} vs {tuple(w.shape)}")
        for w, a in zip(weights, arrays):
            w.assign(a)

    # ---- summary ----
    def summary(self, print_fn=None):
        print_fn = print_fn or print
        rows = self._summary_rows()
        width = 65
        lines = [f'Model: "{self.name}"', "_" * width,
                 f" {'Layer (type)':<28}{'Output Shape':<26}{'Param #':<10}", "=" * width]
        for i, (name, kind, shape, params) in enumerate(rows):
            lines.append(f" {f'{name} ({kind})':<28}{str(shape):<26}{params:<10}")
            lines.append("" if i < len(rows) - 1 else "=" * width)
        total = sum(r[3] for r in rows)
        trainable = sum(int(np.prod(w.shape)) for w in self.trainable_weights)
        lines += [f"Total params: {total:,}", f"Trainable params: {trainable:,}",
                  f"Non-trainable params: {total - trainable:,}", "_" * width]
        for line in lines:
            print_fn(line)

    def _summary_rows(self):
        return [(layer.name, type(layer).__name__, "multiple", layer.count_params()) for layer in self.layers]


class Sequential(Model):
    def __init__(self, layers=None, name=None):
        super().__init__(name=name)
        self._layers = []
        for layer in layers or []:
            self.add(layer)

    def add(self, layer):
        if isinstance(layer, InputLayer):
            self._input_shape = layer._input_shape
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects a Layer, got {type(layer).__name__}")
        if not self._layers and layer._input_shape is not None:
            self._input_shape = layer._input_shape
        self._layers.append(layer)
        if self._input_shape is not None:
            self.build((None,) + tuple(self._input_shape))

    def _sublayers(self):
        return list(self._layers)

    @property
    def layers(self):
        return list(self._layers)

    def build(self, input_shape=None):
        if input_shape is not None and self._layers:
            sample = ops.zeros((1,) + tuple(input_shape)[1:], self.dtype)
            self.call(sample, training=False)
        self.built = True

    def call(self, inputs, training=None):
        x = inputs
        for layer in self._layers:
            x = layer(x, training=training)
        return x

    def _summary_rows(self):
        if self._input_shape is None and not all(layer.built for layer in self._layers):
            raise ValueError("This model has not yet been built. Build the model first by calling build() or "
                             "by calling the model on a batch of data, or give the first layer an input_shape.")
        rows, shape = [], (None,) + tuple(self._input_shape or ())
        for layer in self._layers:
            shape = layer.compute_output_shape(shape) if self._input_shape is not None else "multiple"
            rows.append((layer.name, type(layer).__name__, shape, layer.count_params()))
        return rows


def _weight_position(key):
    """save_weights keys are "<position>:<name>"; order by the number (a string sort breaks at 10000)."""
    position = key.split(":", 1)[0]
    if not position.isdigit():
        raise DataLossError(f"weights archive key {key!r} does not start with a weight position")
    return int(position)


def _check_cardinality(x, y):
    """Keras' check: x and y must hold the same number of samples (else batches would pair wrong rows)."""
    from ..data import Dataset
    if isinstance(x, Dataset) or y is None:
        return
    sizes = {"x": len(x), "y": len(y)}
    if sizes["x"] != sizes["y"]:
        raise ValueError("Data cardinality is ambiguous. Make sure all arrays contain the same number of samples. "
                         f"'x' sizes: {sizes['x']}, 'y' sizes: {sizes['y']}")


def _batches(x, y, batch_size, shuffle):
    """Mini-batches (x, y) from arrays, or the batches of a Dataset."""
    from ..data import Dataset
    if isinstance(x, Dataset):
        for element in x:
            yield (element[0], element[1]) if isinstance(element, tuple) else (element, None)
        return
    x = x.numpy() if isinstance(x, Tensor) else np.asarray(x)
    y = None if y is None else (y.numpy() if isinstance(y, Tensor) else np.asarray(y))
    order = np.random.permutation(len(x)) if shuffle else np.arange(len(x))
    for start in range(0, len(x), batch_size):
        index = order[start: start + batch_size]
        yield x[index], (None if y is None else y[index])


class _ProgressBar:
    """Keras-style progress: verbose=1 a bar with metrics, verbose=2 one line per epoch, 0 silent."""

    def __init__(self, total, verbose, title):
        self.total, self.verbose, self.start = total, verbose, time.perf_counter()
        if verbose and title:
            print(title)

    def _metrics(self, logs):
        return " - ".join(f"{k}: {float(v):.4f}" for k, v in logs.items())

    def update(self, done, logs):
        if self.verbose != 1 or not sys.stdout.isatty() or (done % max(self.total // 30, 1) and done != self.total):
            return
        filled = int(30 * done / max(self.total, 1))
        bar = "=" * max(filled - 1, 0) + (">" if filled < 30 else "=") + "." * (30 - filled)
        sys.stdout.write(f"\r{done}/{self.total} [{bar}] - {self._metrics(logs)}")
        sys.stdout.flush()

    def finish(self, logs):
        elapsed = time.perf_counter() - self.start
        per_step = elapsed / max(self.total, 1)
        timing = f"{elapsed:.0f}s {per_step * 1e3:.0f}ms/step - {self._metrics(logs)}"
        if self.verbose == 1:
            sys.stdout.write(f"\r{self.total}/{self.total} [{'=' * 30}] - {timing}\n")
        elif self.verbose == 2:
            print(f"{self.total}/{self.total} - {timing}")
