"""Keras 3 callbacks: Callback, CallbackList, History, ProgbarLogger, EarlyStopping, ModelCheckpoint."""
import warnings

import numpy as np

from .. import config
from .utils import Progbar


class Callback:
    def __init__(self):
        self.model, self.params = None, {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def _noop(self, *args, **kwargs):
        pass

    on_train_begin = on_train_end = on_epoch_begin = on_epoch_end = _noop
    on_train_batch_begin = on_train_batch_end = on_test_begin = on_test_end = _noop
    on_test_batch_begin = on_test_batch_end = on_predict_begin = on_predict_end = _noop
    on_predict_batch_begin = on_predict_batch_end = _noop


class History(Callback):
    """Records the epoch logs: `history.history[name]` per epoch, `history.epoch`, `history.params`."""

    def __init__(self):
        super().__init__()
        self.history = {}

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        self.model.history = self


class ProgbarLogger(Callback):
    """Prints "Epoch i/n" (when n > 1) and a Progbar per epoch; silent for the validation inside fit
    and in a process whose output is off (the workers other than 0 of a multi-worker job)."""

    def __init__(self):
        super().__init__()
        self.progbar, self.target, self.seen, self.verbose, self.epochs = None, None, 0, 1, 1
        self._called_in_fit = False

    def set_params(self, params):
        super().set_params(params)
        self.verbose = 1 if params["verbose"] == "auto" else params["verbose"]
        if not config.output_enabled():         # only the chief of a job prints
            self.verbose = 0
        self.epochs, self.target = params["epochs"], params["steps"]

    def on_train_begin(self, logs=None):
        self._called_in_fit = True

    def on_test_begin(self, logs=None):
        if not self._called_in_fit:
            self._reset()

    def on_predict_begin(self, logs=None):
        self._reset()

    def on_epoch_begin(self, epoch, logs=None):
        self._reset()
        if self.verbose and self.epochs > 1:
            print(f"Epoch {epoch + 1}/{self.epochs}")

    def on_train_batch_end(self, batch, logs=None):
        self._update(batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        if not self._called_in_fit:
            self._update(batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._update(batch, None)

    def on_epoch_end(self, epoch, logs=None):
        self._finalize(logs)

    def on_test_end(self, logs=None):
        if not self._called_in_fit:
            self._finalize(logs)

    def on_predict_end(self, logs=None):
        self._finalize(logs)

    def _reset(self):
        self.seen, self.progbar = 0, Progbar(self.target, verbose=self.verbose, unit_name="step",
                                             stateless_metrics=set())

    def _update(self, batch, logs):
        self.seen = batch + 1
        if self.verbose == 1:
            self.progbar.update(self.seen, [(k, float(v)) for k, v in (logs or {}).items()], finalize=False)

    def _finalize(self, logs):
        if self.target is None:
            self.target = self.progbar.target = self.seen
        self.progbar.update(self.target, [(k, float(v)) for k, v in (logs or {}).items()], finalize=True)


class CallbackList(Callback):
    """The user's callbacks, then History and (unless verbose=0) ProgbarLogger, as Keras 3 orders them."""

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None, **params):
        super().__init__()
        self.callbacks = list(callbacks or [])
        if add_history and not any(isinstance(c, History) for c in self.callbacks):
            self.callbacks.append(History())
        if add_progbar and not any(isinstance(c, ProgbarLogger) for c in self.callbacks):
            self.callbacks.append(ProgbarLogger())
        self.history = next((c for c in self.callbacks if isinstance(c, History)), None)
        for c in self.callbacks:
            if model is not None:
                c.set_model(model)
            if params:
                c.set_params(params)

    def __getattribute__(self, name):
        if name.startswith("on_"):
            return lambda *args, **kwargs: [getattr(c, name)(*args, **kwargs) for c in self.callbacks] and None
        return super().__getattribute__(name)


class _Monitor(Callback):
    def __init__(self, monitor, mode):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode {mode!r} is unknown: expected one of 'auto', 'min', 'max'")
        self.monitor = monitor
        maximize = mode == "max" or (mode == "auto" and ("acc" in monitor or monitor.endswith("auc")))
        self.sign = -1.0 if maximize else 1.0

    def _value(self, logs):
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(f"{type(self).__name__} conditioned on metric `{self.monitor}` which is not available. "
                          f"Available metrics are: {','.join(logs or {})}", stacklevel=3)
        return value


class EarlyStopping(_Monitor):
    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode)
        self.min_delta, self.patience, self.verbose, self.baseline = abs(min_delta), patience, verbose, baseline
        self.restore_best_weights, self.start_from_epoch = restore_best_weights, start_from_epoch
        self.stopped_epoch = 0

    def on_train_begin(self, logs=None):
        self.wait, self.best_score, self.best_weights, self.best_epoch, self.stopped_epoch = 0, np.inf, None, 0, 0

    @property
    def best(self):
        return self.sign * self.best_score

    def _improves_on(self, value, score):
        """Keras: an improvement beats the reference by more than min_delta (current + min_delta < best
        in min mode, current - min_delta > best in max mode)."""
        return self.sign * value + self.min_delta < score

    def on_epoch_end(self, epoch, logs=None):
        current = self._value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights, self.best_epoch = self.model.get_weights(), epoch
        self.wait += 1
        if self._improves_on(current, self.best_score):
            self.best_score, self.best_epoch = self.sign * current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._improves_on(current, self.sign * self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch, self.model.stop_training = epoch, True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None and self.stopped_epoch > 0:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(_Monitor):
    """Saves the model (`.keras`) or its weights (`save_weights_only=True`: `.weights.h5`) after each
    epoch, or only when `monitor` improved (`save_best_only`). The filepath may hold {epoch} and log keys."""

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__(monitor, mode)
        self.filepath, self.verbose = str(filepath), verbose
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        if save_freq != "epoch":
            raise NotImplementedError("ModelCheckpoint: only save_freq='epoch' is supported")
        if save_weights_only and not self.filepath.endswith(".weights.h5"):
            raise ValueError("When using `save_weights_only=True` in `ModelCheckpoint`, the filepath provided must "
                             f"end in `.weights.h5` (Keras weights format). Received: filepath={self.filepath}")
        if not save_weights_only and not self.filepath.endswith(".keras"):
            raise ValueError("The filepath provided must end in `.keras` (Keras model format). Received: "
                             f"filepath={self.filepath}")
        self.best = np.inf if initial_value_threshold is None else self.sign * initial_value_threshold

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            value = self._value(logs)
            if value is None or self.sign * value >= self.best:
                if self.verbose > 0 and value is not None:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.sign * self.best:.5f}")
                return
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.sign * self.best:.5f} to "
                      f"{value:.5f}, saving model to {path}")
            self.best = self.sign * value
        elif self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        if self.save_weights_only:
            self.model.save_weights(path, overwrite=True)
        else:
            self.model.save(path, overwrite=True)
