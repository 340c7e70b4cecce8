"""keras.utils.Progbar: the progress display of Keras 3 (keras/src/utils/progbar.py), character for
character: verbose=1 redraws one line ("\\r" after backspaces) with a bold step count, a green and
gray bar of "━", ETA or elapsed time, time per step and the metrics; verbose=2 prints one line
when the target is reached."""
import math
import sys
import time

import numpy as np


class Progbar:
    def __init__(self, target, width=20, verbose=1, interval=0.05, stateful_metrics=None, stateless_metrics=None,
                 unit_name="step"):
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError("Only one of `stateful_metrics` or `stateless_metrics` can be provided.")
        self.target, self.width, self.verbose, self.interval, self.unit_name = target, width, verbose, interval, \
            unit_name
        # metrics averaged over the steps by the bar (all of them unless told otherwise), or shown as given
        self._averaged = (lambda k: k not in set(stateful_metrics)) if stateful_metrics is not None else \
            (lambda k: k in set(stateless_metrics)) if stateless_metrics is not None else (lambda k: True)
        self._values, self._values_order = {}, []
        self._seen_so_far = 0
        self._start = time.time()
        self._last_update = 0
        self._time_after_first_step = None
        self._prev_total_width = 0

    def update(self, current, values=None, finalize=None):
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        for k, v in values or []:
            if k not in self._values_order:
                self._values_order.append(k)
            if not self._averaged(k) or finalize:
                self._values[k] = [v, 1]
            else:
                base = max(current - self._seen_so_far, 1)
                total = self._values.get(k, [0.0, 0])
                self._values[k] = [total[0] + v * base, total[1] + base]
        self._seen_so_far = current
        now = time.time()
        time_per_unit = self._estimate_step_duration(current, now)
        if self.verbose == 1:
            if now - self._last_update < self.interval and not finalize:
                return
            message = "\b" * self._prev_total_width + "\r"
            special = 0
            if self.target is not None and self.target > 0:
                digits = int(math.log10(self.target)) + 1
                bar = f"\x1b[1m{f'%{digits}d/%d' % (current, self.target)}\x1b[0m "
                filled = int(self.width * float(current) / self.target)
                special += 8
                if filled > 0:
                    bar += f"\33[32m{'━' * filled}\x1b[0m"
                    special += 9
                bar += f"\33[37m{'━' * (self.width - filled)}\x1b[0m"
                special += 9
            else:
                bar = "%7d/Unknown" % current
            message += bar
            if self.target is not None and self.target > 0 and not finalize:
                eta = time_per_unit * (self.target - current)
                eta_text = ("%d:%02d:%02d" % (eta // 3600, (eta % 3600) // 60, eta % 60) if eta > 3600 else
                            "%d:%02d" % (eta // 60, eta % 60) if eta > 60 else "%ds" % eta)
                info = f" \x1b[1m{eta_text}\x1b[0m"
            else:
                info = f" \x1b[1m{now - self._start:.0f}s\x1b[0m"
            special += 8
            info += self._format_time(time_per_unit)
            for k in self._values_order:
                avg = self._average(k)
                info += f" - {k}:" + (f" {avg:.4f}" if abs(avg) > 1e-3 else f" {avg:.4e}")
            message += info
            total_width = len(bar) + len(info) - special
            if self._prev_total_width > total_width:
                message += " " * (self._prev_total_width - total_width)
            if finalize:
                message += "\n"
            sys.stdout.write(message)
            sys.stdout.flush()
            self._prev_total_width = total_width
        elif self.verbose == 2 and finalize and self.target is not None and self.target > 0:
            digits = int(math.log10(self.target)) + 1
            info = f"{f'%{digits}d/%d' % (current, self.target)} - {now - self._start:.0f}s -"
            info += self._format_time(time_per_unit)
            for k in self._values_order:
                avg = self._average(k)
                info += f" - {k}:" + (f" {avg:.4f}" if avg > 1e-3 else f" {avg:.4e}")
            sys.stdout.write(info + "\n")
            sys.stdout.flush()
        self._last_update = now

    def add(self, n, values=None):
        self.update(self._seen_so_far + n, values)

    def _average(self, key):
        total, count = self._values[key]
        return float(np.mean(total)) / max(1, count)

    def _format_time(self, time_per_unit):
        if time_per_unit >= 1 or time_per_unit == 0:
            return f" {time_per_unit:.0f}s/{self.unit_name}"
        if time_per_unit >= 1e-3:
            return f" {time_per_unit * 1000.0:.0f}ms/{self.unit_name}"
        return f" {time_per_unit * 1000000.0:.0f}us/{self.unit_name}"

    def _estimate_step_duration(self, current, now):
        if not current:
            return 0
        if self._time_after_first_step is not None and current > 1:
            per_unit = (now - self._time_after_first_step) / (current - 1)
        else:
            per_unit = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per_unit
