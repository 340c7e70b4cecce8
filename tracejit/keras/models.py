"""Keras 3 Model (subclassing with `call`) and Sequential: compile / fit / evaluate / predict with
Keras 3's logs and progress output, train_step/test_step/predict_step to override, summary,
save / save_weights / load_weights (.keras and .weights.h5 files as Keras 3 writes them; .npz
weights for other suffixes) and export (a SavedModel with a `serve` endpoint).
fit and evaluate run their steps as @function.

Under a tf.distribute strategy (the one the model was compiled under), fit and evaluate run in
its scope and each step through strategy.run, as Keras 3 does: `batch_size` is the GLOBAL batch,
each worker steps on its shard of every global batch (in worker 0's shuffled order), the
optimizer sums the gradients over the workers inside the compiled step, and metrics (the loss
included) are summed over the workers when read: N workers follow the trajectory of one process
with the same global batch (when it splits evenly into N shards; a partial last batch weighs each
worker's mean alike, as in Keras 3)."""
import functools
import os
import warnings
import zipfile

import numpy as np

from .. import distribute, nest, ops
from ..autodiff import GradientTape
from ..errors import DataLossError
from ..fileio import atomic_write, npz_bytes
from ..jit import function
from ..tensor import Tensor, TensorSpec
from . import callbacks as callbacks_module
from . import losses as losses_module
from . import metrics as metrics_module
from . import optimizers as optimizers_module
from . import saving
from .serialization import register_builtins
from .layers import InputLayer, Layer

_STEP_FUNCTIONS = ("train_function", "test_function", "predict_function")


def _functional_arguments(args, kwargs):
    return len(args) == 2 or (len(args) == 1 and "outputs" in kwargs) or ("inputs" in kwargs and "outputs" in kwargs)


def _in_strategy_scope(method):
    """Run the method in the scope of the model's strategy."""
    @functools.wraps(method)
    def in_scope(self, *args, **kwargs):
        with self.distribute_strategy.scope():
            return method(self, *args, **kwargs)
    return in_scope


class Model(Layer):
    _keras_module = "keras"
    _TF_MODULE_IGNORED_PROPERTIES = Layer._TF_MODULE_IGNORED_PROPERTIES | set(_STEP_FUNCTIONS)

    def __new__(cls, *args, **kwargs):
        if _functional_arguments(args, kwargs):
            raise NotImplementedError("the functional API Model(inputs, outputs) is not supported yet; subclass Model "
                                      "or use Sequential")
        return super().__new__(cls, *args, **kwargs)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.compiled, self.stop_training, self.optimizer, self.history = False, False, None, None
        self.run_eagerly = False
        self.train_function = self.test_function = self.predict_function = None

    @property
    def layers(self):
        return self._sublayers()

    def get_layer(self, name=None, index=None):
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}. Existing layers are: {[layer.name for layer in self.layers]}.")

    def build(self, input_shape=None):
        """The default for subclassed models: run `call` once on zeros so every sublayer creates its state."""
        if input_shape is not None and not all(layer.built for layer in self._sublayers()):
            self.call(ops.zeros([1 if d is None else d for d in input_shape], self.compute_dtype))

    # ---- compile ----
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                run_eagerly=False, steps_per_execution=1, jit_compile="auto", auto_scale_loss=True):
        if loss_weights is not None or weighted_metrics is not None or steps_per_execution != 1:
            raise NotImplementedError("compile: loss_weights, weighted_metrics and steps_per_execution are not "
                                      "supported yet")
        self._distribute_strategy = distribute.get_strategy()
        self._compile_config = {"optimizer": optimizer, "loss": loss, "loss_weights": None, "metrics": metrics,
                                "weighted_metrics": None, "run_eagerly": run_eagerly, "steps_per_execution": 1,
                                "jit_compile": False}
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = loss
        self._loss_fn = losses_module.get(loss) if loss is not None else None
        self._compile_metrics = [metrics_module.get(m, self._loss_fn) for m in (metrics or [])]
        self._loss_tracker = metrics_module.Mean(name="loss")
        self.run_eagerly = run_eagerly
        self.train_function = self.test_function = self.predict_function = None
        self.compiled = True

    def get_compile_config(self):
        if self.compiled and hasattr(self, "_compile_config"):
            return self._compile_config
        return None

    def compile_from_config(self, config, custom_objects=None):
        config = {k: saving.deserialize_keras_object(v, custom_objects) for k, v in config.items()}
        self.compile(**{k: v for k, v in config.items() if k in ("optimizer", "loss", "metrics", "run_eagerly")})
        if self.built:
            self.optimizer.build(self.trainable_variables)

    @property
    def metrics(self):
        """The loss tracker and compiled metrics, then the Metric objects held in attributes (Keras 3
        tracks those too: fit and evaluate reset them and log their results)."""
        found = ([self._loss_tracker] + list(self._compile_metrics)) if self.compiled else []
        for key, value in vars(self).items():
            if isinstance(value, metrics_module.Metric) and key != "_loss_tracker" and \
                    not any(value is m for m in found):
                found.append(value)
        return found

    @property
    def metrics_names(self):
        return [m.name for m in self.metrics]

    def reset_metrics(self):
        for metric in self.metrics:
            metric.reset_state()

    @property
    def distribute_strategy(self):
        """The strategy the model was compiled under (fit and evaluate run in its scope)."""
        return getattr(self, "_distribute_strategy", None) or distribute.get_strategy()

    def _check_mirrored(self):
        strategy = self.distribute_strategy
        if strategy.num_replicas_in_sync == 1:
            return
        outside = [v.name for v in self.trainable_weights if not strategy.extended.variable_created_in_scope(v)]
        if outside:
            raise ValueError(f"{len(outside)} variable(s) of {self.name} were created outside the scope of "
                             f"{strategy!r} (e.g. {outside[0]}), so they are not the same on every worker: create (or "
                             "build) and compile the model inside `with strategy.scope():`")

    def _require_compiled(self, what):
        if not self.compiled:
            raise ValueError("You must call `compile()` before using the model.")

    # ---- steps (override them to customize fit/evaluate/predict, as in Keras) ----
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if self._loss_fn is None:
            raise ValueError("No loss to compute: provide a `loss` argument in `compile()`.")
        return self._loss_fn(y, y_pred, sample_weight)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        for metric in self._compile_metrics:
            metric.update_state(y, y_pred, sample_weight=sample_weight)
        return self.get_metrics_result()

    def get_metrics_result(self):
        """{name: result} of every metric, sorted by name (Keras 3's logs order)."""
        return dict(sorted(((m.name, m.result()) for m in self.metrics), key=lambda item: item[0]))

    def _metrics_result_or(self, logs):
        """The metrics' results, unless a custom step returned other keys (then its last logs)."""
        results = self.get_metrics_result()
        return results if isinstance(logs, dict) and set(logs) == set(results) else logs

    def _batch_size(self, x):
        return ops.cast(ops.shape(nest.flatten(x)[0])[0], "float32")

    def train_step(self, data):
        x, y, sample_weight = _unpack(data)
        with GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True)
        variables = self.trainable_weights
        if variables:
            self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        else:
            warnings.warn("The model does not have any trainable weights.", stacklevel=2)
        # the trackers are updated after the optimizer (Keras updates the loss tracker first: the same
        # values, but effects in this order let the compiled step update the weights in place early)
        self._loss_tracker.update_state(losses_module.unscale_loss_for_distribution(loss),
                                        sample_weight=self._batch_size(x))
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def test_step(self, data):
        x, y, sample_weight = _unpack(data)
        y_pred = self(x, training=False)
        loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=False)
        self._loss_tracker.update_state(losses_module.unscale_loss_for_distribution(loss),
                                        sample_weight=self._batch_size(x))
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def predict_step(self, data):
        x, _, _ = _unpack(data)
        return self(x, training=False)

    def _step_function(self, kind):
        """model.train_function(x, y[, sample_weight]) runs train_step((x, y[, sample_weight])) through
        the strategy's run, as a @function unless run_eagerly (tensors as positional arguments: the fast
        call path)."""
        attribute = f"{kind}_function"
        if getattr(self, attribute, None) is None:
            step, strategy = getattr(self, f"{kind}_step"), self.distribute_strategy

            def run(*data):
                return strategy.run(step, args=(data,))
            run.__name__ = f"{kind}_step"
            setattr(self, attribute, run if self.run_eagerly else function(run))
        return getattr(self, attribute)

    def make_train_function(self, force=False):
        if force:
            self.train_function = None
        return self._step_function("train")

    # ---- fit / evaluate / predict ----
    @_in_strategy_scope
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1):
        self._require_compiled("fit")
        _check_cardinality(x, y)
        self._check_mirrored()
        if class_weight is not None or sample_weight is not None:
            raise NotImplementedError("fit: class_weight and sample_weight are not supported yet; pass a Dataset "
                                      "of (x, y, sample_weight) instead")
        if validation_split and validation_data is None:
            if not 0 < validation_split < 1:
                raise ValueError(f"validation_split must be in (0, 1), got {validation_split}")
            x, y = _array(x), _array(y)
            split = int(len(x) * (1 - validation_split))
            x, y, validation_data = x[:split], y[:split], (x[split:], y[split:])
        batch_size = batch_size or 32
        steps = steps_per_epoch or _count_batches(x, batch_size)
        callbacks = callbacks_module.CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=self,
                                                  verbose=verbose, epochs=epochs, steps=steps)
        train = self._step_function("train")
        self.stop_training = False
        callbacks.on_train_begin()
        epoch_logs = None
        for epoch in range(initial_epoch, epochs):
            self.reset_metrics()
            callbacks.on_epoch_begin(epoch)
            logs = {}
            for step, data in enumerate(_batches(x, y, batch_size, shuffle, self.distribute_strategy)):
                if steps_per_epoch is not None and step >= steps_per_epoch:
                    break
                callbacks.on_train_batch_begin(step)
                logs = train(*data)
                callbacks.on_train_batch_end(step, logs)
                if self.stop_training:
                    break
            epoch_logs = _pythonify(self._metrics_result_or(logs))
            if validation_data is not None and (epoch + 1) % validation_freq == 0:
                val_logs = self.evaluate(*_validation_arguments(validation_data), batch_size=validation_batch_size or
                                         batch_size, steps=validation_steps, callbacks=callbacks, return_dict=True)
                epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
            callbacks.on_epoch_end(epoch, epoch_logs)
            if self.stop_training:
                break
        callbacks.on_train_end(logs=epoch_logs)
        return callbacks.history

    @_in_strategy_scope
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False):
        self._require_compiled("evaluate")
        _check_cardinality(x, y)
        if sample_weight is not None:
            raise NotImplementedError("evaluate: sample_weight is not supported yet; pass a Dataset of "
                                      "(x, y, sample_weight) instead")
        batch_size = batch_size or 32
        if not isinstance(callbacks, callbacks_module.CallbackList):
            callbacks = callbacks_module.CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose,
                                                      epochs=1, steps=steps or _count_batches(x, batch_size))
        test = self._step_function("test")
        self.reset_metrics()
        callbacks.on_test_begin()
        logs = {}
        for step, data in enumerate(_batches(x, y, batch_size, False, self.distribute_strategy)):
            if steps is not None and step >= steps:
                break
            callbacks.on_test_batch_begin(step)
            logs = test(*data)
            callbacks.on_test_batch_end(step, logs)
        logs = _pythonify(self._metrics_result_or(logs))
        callbacks.on_test_end(logs)
        if return_dict:
            return logs
        names = [m.name for m in self.metrics]
        values = [logs[n] for n in names if n in logs] + [logs[k] for k in sorted(logs) if k not in names]
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        batch_size = batch_size or 32
        callbacks = callbacks_module.CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose,
                                                  epochs=1, steps=steps or _count_batches(x, batch_size))
        predict = self._step_function("predict")
        callbacks.on_predict_begin()
        outputs = []
        for step, data in enumerate(_batches(x, None, batch_size, False)):    # every worker predicts everything
            if steps is not None and step >= steps:
                break
            callbacks.on_predict_batch_begin(step)
            outputs.append(nest.map_structure(lambda t: t.numpy(), predict(*data)))
            callbacks.on_predict_batch_end(step, {"outputs": outputs[-1]})
        callbacks.on_predict_end()
        if not outputs:
            raise ValueError("Expected input data to be non-empty.")
        return _concatenate(outputs)

    def train_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        self._require_compiled("train_on_batch")
        self.reset_metrics()
        data = (x, y) if sample_weight is None else (x, y, sample_weight)
        logs = _pythonify(self._step_function("train")(*data))
        return logs if return_dict else _in_order(self, logs)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        self._require_compiled("test_on_batch")
        self.reset_metrics()
        data = (x, y) if sample_weight is None else (x, y, sample_weight)
        logs = _pythonify(self._step_function("test")(*data))
        return logs if return_dict else _in_order(self, logs)

    def predict_on_batch(self, x):
        return self.predict(x, batch_size=len(_array(x)), verbose=0)

    # ---- saving ----
    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        filepath = str(filepath)
        if kwargs:
            raise ValueError(f"The following argument(s) are not supported: {list(kwargs)}")
        if os.path.exists(filepath) and not overwrite:
            raise FileExistsError(f"{filepath} exists and overwrite=False")
        if filepath.endswith((".h5", ".hdf5")):
            raise NotImplementedError("the legacy Keras 2 HDF5 model format is not supported: save as '.keras' "
                                      "(model.save('model.keras')) or save the weights ('.weights.h5')")
        if not filepath.endswith(".keras"):
            raise ValueError("Invalid filepath extension for saving. Please add either a `.keras` extension for the "
                             "native Keras format (recommended) or a `.h5` extension. Use `model.export(filepath)` "
                             "if you want to export a SavedModel for use with TFLite/TFServing/etc. Received: "
                             f"filepath={filepath}.")
        saving.save_model(self, filepath)

    def save_weights(self, filepath, overwrite=True, max_shard_size=None):
        """`.weights.h5`: Keras 3's HDF5 layout. Any other suffix: a NumPy .npz archive (tracejit's own)
        with one array per weight, keyed by position and name."""
        filepath = str(filepath)
        if os.path.exists(filepath) and not overwrite:
            raise FileExistsError(f"{filepath} exists and overwrite=False")
        if max_shard_size is not None:
            raise NotImplementedError("save_weights: sharded weights (max_shard_size) are not supported yet")
        if filepath.endswith(".weights.h5"):
            return saving.save_weights(self, filepath)
        weights = self.weights
        if not weights:
            raise ValueError(f"{self.name}: the model has no weights yet (call it on data or build it first)")
        arrays = {f"{i:04d}:{getattr(w, 'path', w.name)}": w.numpy() for i, w in enumerate(weights)}
        atomic_write(filepath, npz_bytes(arrays))      # a crash leaves the old file or the new one

    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        filepath = str(filepath)
        if skip_mismatch or kwargs:
            raise NotImplementedError("load_weights: skip_mismatch and other options are not supported yet")
        if filepath.endswith((".weights.h5", ".keras")):
            return saving.load_weights(self, filepath)
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

    def export(self, filepath, format="tf_saved_model", verbose=None, input_signature=None, **kwargs):
        """A SavedModel with the endpoint `serve` (also its serving_default signature), as Keras 3 exports."""
        if format != "tf_saved_model" or kwargs:
            raise NotImplementedError(f"export: only format='tf_saved_model' is supported (got {format!r})")
        from ..module import Module
        from ..saved_model import save
        spec = input_signature or [self._input_spec()]
        archive = Module(name="export_archive")
        archive.model = self
        archive.serve = function(lambda *args: self(*args, training=False), input_signature=list(spec), name="serve")
        concrete = archive.serve.get_concrete_function()
        save(archive, filepath, signatures={"serving_default": archive.serve})
        if verbose is None or verbose:
            lines = concrete.pretty_printed_signature().split("\n")
            print(f"Saved artifact at '{filepath}'. The following endpoints are available:\n\n" +
                  "\n".join(["* Endpoint 'serve'"] + lines[1:]))

    def _input_spec(self, name="keras_tensor"):
        if not self.built or self._build_shapes_dict is None:
            raise ValueError("The model provided has not yet been built. It must be built before export.")
        shape = tuple(self._build_shapes_dict.values())[0]
        return TensorSpec((None,) + tuple(shape)[1:], self.input_dtype, name=name)

    @property
    def _default_save_signature(self):
        """Keras 3 on TF: `serving_default(inputs)` calls the model (inference mode) on the built input shape."""
        if not self.built or self._build_shapes_dict is None:
            return None
        model = self

        def serving_default(inputs):
            return model(inputs)
        return function(serving_default, input_signature=[self._input_spec(name=None)])

    @classmethod
    def from_config(cls, config, custom_objects=None):
        try:
            return cls(**config)
        except TypeError as e:
            raise TypeError(f"Unable to revive model from config. When overriding the `get_config()` method, make "
                            f"sure that the returned config contains all items used as arguments in the constructor "
                            f"to {cls}, which is the default behavior. You can override this default behavior by "
                            f"defining a `from_config(cls, config)` class method to specify how to create an instance "
                            f"of {cls.__name__} from its config.\n\nReceived config={config}\n\nError encountered "
                            f"during deserialization: {e}") from None

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
        return [(layer.name, type(layer).__name__, "multiple", layer.count_params() if layer.built else 0)
                for layer in self.layers]


class Sequential(Model):
    def __init__(self, layers=None, trainable=True, name=None):
        super().__init__(trainable=trainable, name=name)
        self._layers = []
        for layer in layers or []:
            self.add(layer, rebuild=False)
        if self._layers:
            self._maybe_rebuild()

    def add(self, layer, rebuild=True):
        if not self._layers and getattr(layer, "_input_shape_arg", None) is not None:
            self.add(InputLayer(shape=layer._input_shape_arg), rebuild=False)
        if not isinstance(layer, Layer):
            raise ValueError(f"Only instances of `keras.Layer` can be added to a Sequential model. Received: {layer} "
                             f"(of type {type(layer)})")
        if any(existing.name == layer.name for existing in self._layers):
            raise ValueError(f"All layers added to a Sequential model should have unique names. Name '{layer.name}' "
                             "is already the name of a layer in this model. Update the `name` argument to pass a "
                             "unique name.")
        if isinstance(layer, InputLayer) and self._layers and isinstance(self._layers[0], InputLayer):
            raise ValueError(f"Sequential model '{self.name}' has already been configured to use input shape "
                             f"{self._layers[0].batch_shape}. You cannot add a different Input layer to it.")
        self._layers.append(layer)
        if rebuild:
            self._maybe_rebuild()
        else:
            self.built = False

    def pop(self, rebuild=True):
        layer = self._layers.pop()
        self.built = False
        if rebuild:
            self._maybe_rebuild()
        return layer

    def _obj_type(self):
        return "Sequential"

    def _maybe_rebuild(self):
        self.built = False
        first = self._layers[0]
        if isinstance(first, InputLayer) and len(self._layers) > 1:
            self.build(first.batch_shape)
        elif len(self._layers) > 1 and getattr(first, "input_shape", None) is not None:
            self.build(first.input_shape)               # e.g. a built Sequential as the first layer

    @property
    def layers(self):
        return self._layers[1:] if self._layers and isinstance(self._layers[0], InputLayer) else list(self._layers)

    @layers.setter
    def layers(self, _):
        raise AttributeError("`Sequential.layers` attribute is reserved and should not be used. Use `add()` and "
                             "`pop()` to change the layers in this model.")

    def _sublayers(self):
        return list(self._layers)

    def build(self, input_shape=None):
        if input_shape is None:
            return
        if not self._layers:
            raise ValueError(f"Sequential model {self.name} cannot be built because it has no layers. Call "
                             "`model.add(layer)`.")
        input_shape = tuple(input_shape)
        if isinstance(self._layers[0], InputLayer):
            if self._layers[0].batch_shape != input_shape:
                raise ValueError(f"Sequential model '{self.name}' has already been configured to use input shape "
                                 f"{self._layers[0].batch_shape}. You cannot build it with input_shape {input_shape}")
        else:
            self._layers.insert(0, InputLayer(batch_shape=input_shape, dtype=self._layers[0].compute_dtype))
        shape = input_shape
        for layer in self.layers:
            if not layer.built:
                layer.build(shape)
            shape = layer.compute_output_shape(shape)

    def call(self, inputs, training=None):
        x = inputs
        for layer in self.layers:
            x = layer(x, training=training) if layer._call_has_training_arg and training is not None else layer(x)
        return x

    def compute_output_shape(self, input_shape):
        for layer in self.layers:
            input_shape = layer.compute_output_shape(input_shape)
        return input_shape

    @property
    def input_shape(self):
        if self._layers and isinstance(self._layers[0], InputLayer):
            return self._layers[0].batch_shape
        raise AttributeError(f"Sequential model '{self.name}' has no defined input shape yet.")

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable,
                  "dtype": saving.serialize_keras_object(self.dtype_policy),
                  "layers": [saving.serialize_keras_object(layer) for layer in self._layers]}
        if self._layers and isinstance(self._layers[0], InputLayer) and self.built:
            config["build_input_shape"] = self._layers[0].batch_shape
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        if "name" not in config or "layers" not in config:
            raise ValueError("A Sequential model configuration must be a dictionary containing the 'name' and "
                             f"'layers' keys. Received: config={config}")
        model = cls(name=config["name"], trainable=config.get("trainable", True))
        for layer_config in config["layers"]:
            model.add(saving.deserialize_keras_object(layer_config, custom_objects=custom_objects))
        shape = config.get("build_input_shape")
        if not model.built and isinstance(shape, (list, tuple)) and shape:
            model.build(shape)
        return model

    def _summary_rows(self):
        if not self.built:
            raise ValueError("This model has not yet been built. Build the model first by calling build() or by "
                             "calling the model on a batch of data, or give the first layer an input_shape.")
        rows, shape = [], (None,) + tuple(self.input_shape)[1:]
        for layer in self.layers:
            shape = layer.compute_output_shape(shape)
            rows.append((layer.name, type(layer).__name__, tuple(shape), layer.count_params()))
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


def _unpack(data):
    """(x, y, sample_weight) from a batch: x, (x,), (x, y) or (x, y, sample_weight)."""
    if isinstance(data, tuple):
        return tuple(data) + (None,) * (3 - len(data)) if len(data) <= 3 else (data, None, None)
    return data, None, None


def _array(x):
    return x.numpy() if isinstance(x, Tensor) else np.asarray(x)


def _pythonify(logs):
    return {k: float(v) if not isinstance(v, dict) else v for k, v in sorted(logs.items())}


def _in_order(model, logs):
    names = [m.name for m in model.metrics]
    values = [logs[n] for n in names if n in logs] + [logs[k] for k in sorted(logs) if k not in names]
    return values[0] if len(values) == 1 else values


def _validation_arguments(validation_data):
    from ..data import Dataset
    if isinstance(validation_data, Dataset):
        return (validation_data,)
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise ValueError("validation_data must be a Dataset or a tuple (x_val, y_val); got "
                         f"{type(validation_data).__name__}")
    if len(validation_data) == 3:
        raise NotImplementedError("validation_data with sample weights is not supported yet")
    return tuple(validation_data)


def _count_batches(x, batch_size):
    from ..data import Dataset
    if isinstance(x, Dataset):
        count = getattr(x, "cardinality", lambda: -1)()
        count = int(count.numpy() if hasattr(count, "numpy") else count)
        return count if count >= 0 else None
    return -(-len(_array(x)) // batch_size)


def _batches(x, y, batch_size, shuffle, strategy=None):
    """Mini-batches (x, y) from arrays, or the elements of a Dataset. Under a strategy of several
    replicas: this worker's shard of each (global) batch."""
    if strategy is None or strategy.num_replicas_in_sync == 1:
        yield from _global_batches(x, y, batch_size, shuffle, strategy)
        return
    for batch in _global_batches(x, y, batch_size, shuffle, strategy):
        start, stop = strategy.extended.local_shard_bounds(len(nest.flatten(batch)[0]))
        yield nest.map_structure(lambda part: part[start:stop], batch)


def _global_batches(x, y, batch_size, shuffle, strategy):
    from ..data import Dataset
    if isinstance(x, Dataset):
        for element in x:
            yield element if isinstance(element, tuple) else (element,)
        return
    if isinstance(x, dict) or isinstance(x, (list, tuple)) and any(isinstance(e, (np.ndarray, Tensor)) for e in x):
        raise NotImplementedError("multi-input data (a dict/list of arrays as x) is not supported yet: pass a "
                                  "tf.data.Dataset of (inputs, targets)")
    x = _array(x)
    y = None if y is None else _array(y)
    order = np.random.permutation(len(x)) if shuffle else np.arange(len(x))
    if shuffle and strategy is not None and strategy.num_replicas_in_sync > 1:
        order = strategy.extended.broadcast_from_chief(order)      # every worker: worker 0's order
    for start in range(0, len(x), batch_size):
        index = order[start: start + batch_size]
        yield (x[index],) if y is None else (x[index], y[index])


def _concatenate(outputs):
    return nest.pack_sequence_as(outputs[0], [np.concatenate(parts, axis=0)
                                              for parts in zip(*[nest.flatten(o) for o in outputs])])


register_builtins(globals())
