"""`UnfreezeSchedule`: change how fast frozen embedding rows learn during `fit`."""

import math
import numbers

import keras

from keras_embedx._checks import check_int
from keras_embedx._walk import iter_layers, iter_tables
from keras_embedx.layers.base import TableLayer

PER_CHOICES = ("epoch", "step")
# Callable step schedules are checked up front when they cover at most this
# many steps; longer ones are checked step by step as training reaches them.
_MAX_PRECHECK = 100_000


def _check_factor(value, where):
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(float(value))
        or not 0.0 <= float(value) <= 1.0
    ):
        raise ValueError(
            f"Unfreeze factors must be numbers in [0, 1] (0: frozen, 1: full "
            f"learning rate). Received: {value!r} {where}"
        )
    return float(value)


def _check_index(value, unit, name="schedule key"):
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or int(value) < 0
    ):
        raise ValueError(
            f"Each {name} must be a non-negative int {unit} number. "
            f"Received: {value!r} (of type {type(value).__name__})"
        )
    return int(value)


class _Linear:
    """Callable ramp: `start` until `begin`, `end` from `stop`, linear between."""

    def __init__(self, begin, stop, start, end):
        self.begin, self.stop, self.start, self.end = begin, stop, start, end

    def __call__(self, index):
        if index <= self.begin:
            return self.start
        if index >= self.stop:
            return self.end
        t = (index - self.begin) / (self.stop - self.begin)
        return self.start + (self.end - self.start) * t

    def __repr__(self):
        return f"linear(from {self.start} at {self.begin} to {self.end} at {self.stop})"


def find_table_layers(model):
    """The `TableLayer`s of `model` and their tables, nested ones included.

    Returns:
        A list of `(layer, [TableRef, ...])` in model order, each table once,
        under the first (outermost) layer that lists it.
    """
    found = {}
    for layer, ref in iter_tables(model):
        found.setdefault(id(layer), (layer, []))[1].append(ref)
    return list(found.values())


class UnfreezeSchedule(keras.callbacks.Callback):
    """Change how fast the frozen rows of embedding tables learn during `fit`.

    Each keras_embedx table built with frozen rows and `schedulable=True`
    (for example `PretrainedEmbedding.from_vectors(wv, vocab,
    freeze="pretrained", schedulable=True)`) has an unfreeze factor f in
    [0, 1]: at f = 0 the frozen rows stay bit-identical whatever the
    optimizer (Adam, AdamW with weight decay, momentum, RMSprop); at f = 1
    they learn like trainable rows; in between each step moves them by f
    times the update the optimizer computes for them, so f acts as a
    learning-rate multiplier for those rows (with plain SGD exactly f times
    the full step; with Adam too, because the optimizer sees the unscaled
    gradient). The factor is a non-trainable variable read inside the
    compiled train step, so changes take effect at once, on TensorFlow, JAX
    and PyTorch, with or without `jit_compile`, without recompiling (except
    once on PyTorch with `jit_compile=True`: `torch.compile` compiles the
    step again the first time the factor leaves 0, see the guide). It is
    saved with the model (`model.save` at any point, then `load_model`).

    The factor is set at the start of every epoch (`per="epoch"`) or every
    training step (`per="step"`; with `steps_per_execution=k` every k
    steps), so `fit(initial_epoch=...)` resumes on schedule. At the end of
    each epoch it is added to the logs under `log_key`, so `History` records
    it and `keras.callbacks.TensorBoard` plots it as `epoch_<log_key>` when
    this callback comes before TensorBoard in the `callbacks` list
    (callbacks run in list order).

    Trainable rows are not affected: they always learn at the full rate.

    Args:
        schedule: a dict `{epoch: factor}` (piecewise constant: the factor
            of the largest key not above the epoch; 0 before the first key),
            or a callable `epoch -> factor`. With `per="step"` the keys or
            the argument count training steps from the start of training
            (`epoch * steps_per_epoch + batch`). See also the ready-made
            `UnfreezeSchedule.step(...)` and `UnfreezeSchedule.linear(...)`.
        layers: None (default: every keras_embedx table in the model with
            frozen rows, nested models included), or a layer name, a layer
            object, or a list of them: keras_embedx layers, or layers and
            nested models that contain some.
        per: `"epoch"` (default) or `"step"`.
        log_key: str, the key of the factor in the epoch logs, or None to
            leave the logs alone (give each of several schedules its own).
            Defaults to `"unfreeze_factor"`.
        verbose: int, 1 prints the factor whenever it changes.

    Example:

    >>> import numpy as np
    >>> from gensim.test.utils import datapath
    >>> wv = keras_embedx.load_vectors(datapath("toy-model.vec"), progress=False)
    >>> vocab = keras_embedx.Vocabulary.from_texts(["the anarchist term", "a blorft"])
    >>> emb = keras_embedx.layers.PretrainedEmbedding.from_vectors(
    ...     wv, vocab, freeze="pretrained", schedulable=True
    ... )
    >>> model = keras.Sequential(
    ...     [emb, keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1)]
    ... )
    >>> model.compile(optimizer="adam", loss="mse")
    >>> schedule = keras_embedx.callbacks.UnfreezeSchedule.linear(1, 3)
    >>> x = vocab.encode(["the anarchist term", "a blorft"])
    >>> history = model.fit(
    ...     x, np.array([1.0, 0.0]), epochs=4, callbacks=[schedule], verbose=0
    ... )
    >>> print(history.history["unfreeze_factor"])
    [0.0, 0.0, 0.5, 1.0]

    Reference:
        - [Howard & Ruder, 2018](https://arxiv.org/abs/1801.06146)
          (gradual unfreezing, ULMFiT)
    """

    def __init__(
        self,
        schedule,
        layers=None,
        per="epoch",
        log_key="unfreeze_factor",
        verbose=0,
    ):
        super().__init__()
        if per not in PER_CHOICES:
            raise ValueError(
                f"`per` must be one of {PER_CHOICES}. Received: per={per!r}"
            )
        self.per = per
        if isinstance(schedule, dict):
            if not schedule:
                raise ValueError(
                    "`schedule` is an empty dict. Give at least one "
                    f"{{{per}: factor}} entry, e.g. {{0: 0.0, 3: 1.0}}."
                )
            points = {}
            for key, value in schedule.items():
                index = _check_index(key, per)
                points[index] = _check_factor(value, f"for {per} {key!r}")
            self._points = sorted(points.items())
            self._fn = None
        elif callable(schedule):
            self._points = None
            self._fn = schedule
        else:
            raise TypeError(
                f"`schedule` must be a dict {{{per}: factor}} or a callable "
                f"{per} -> factor. Received: {schedule!r} "
                f"(of type {type(schedule).__name__})"
            )
        self.schedule = schedule
        self._selection = self._check_selection(layers)
        if log_key is not None and not isinstance(log_key, str):
            raise TypeError(
                f"`log_key` must be a str or None. Received: log_key={log_key!r}"
            )
        self.log_key = log_key
        self.verbose = check_int("verbose", verbose, low=0)
        self._tables = None
        self._applied = {}
        self._steps_per_epoch = None
        self._epoch_start_step = 0
        self._counted_steps = None

    # ----------------------------------------------------- ready-made shapes
    @classmethod
    def step(cls, at_epoch, factor=1.0, **kwargs):
        """Frozen until `at_epoch`, then `factor` (a step function).

        Args:
            at_epoch: int, the first epoch (or step, with `per="step"`) at
                which the frozen rows learn.
            factor: float in (0, 1], the factor from then on. Defaults to 1.
            **kwargs: `layers`, `per`, `log_key`, `verbose`.
        """
        unit = kwargs.get("per", "epoch")
        at_epoch = _check_index(at_epoch, unit, name="`at_epoch`")
        factor = _check_factor(factor, "for `factor`")
        points = {0: 0.0, at_epoch: factor} if at_epoch else {0: factor}
        return cls(points, **kwargs)

    @classmethod
    def linear(cls, start_epoch, end_epoch, start=0.0, end=1.0, **kwargs):
        """A linear ramp: `start` up to `start_epoch`, `end` from `end_epoch`.

        With the defaults the rows stay frozen through `start_epoch` and
        reach the full rate at `end_epoch`: `linear(1, 3)` gives the factors
        0, 0, 0.5, 1, 1, ... for epochs 0, 1, 2, 3, 4, ...

        Args:
            start_epoch: int, the last epoch (or step, with `per="step"`)
                at `start`.
            end_epoch: int greater than `start_epoch`, the first at `end`.
            start: float in [0, 1]. Defaults to 0.
            end: float in [0, 1]. Defaults to 1.
            **kwargs: `layers`, `per`, `log_key`, `verbose`.
        """
        unit = kwargs.get("per", "epoch")
        start_epoch = _check_index(start_epoch, unit, name="`start_epoch`")
        end_epoch = _check_index(end_epoch, unit, name="`end_epoch`")
        if end_epoch <= start_epoch:
            raise ValueError(
                "`end_epoch` must be greater than `start_epoch`. Received: "
                f"start_epoch={start_epoch}, end_epoch={end_epoch}"
            )
        start = _check_factor(start, "for `start`")
        end = _check_factor(end, "for `end`")
        return cls(_Linear(start_epoch, end_epoch, start, end), **kwargs)

    # ------------------------------------------------------------ schedule
    def factor_at(self, index):
        """The factor the schedule gives for an epoch (or a step)."""
        index = _check_index(index, self.per, name=self.per)
        if self._fn is not None:
            return _check_factor(
                self._fn(index), f"from the schedule callable at {self.per} {index}"
            )
        value = 0.0
        for key, factor in self._points:
            if key > index:
                break
            value = factor
        return value

    def factors(self, epochs):
        """The factors of epochs (or steps) `0..epochs-1`, as a list."""
        return [self.factor_at(i) for i in range(epochs)]

    # ----------------------------------------------------------- selection
    @staticmethod
    def _check_selection(layers):
        if layers is None:
            return None
        items = list(layers) if isinstance(layers, (list, tuple)) else [layers]
        if not items:
            raise ValueError(
                "`layers` is empty. Pass None for every table in the model, or "
                "layer names or layer objects."
            )
        for item in items:
            if not isinstance(item, (str, keras.layers.Layer)):
                raise TypeError(
                    "`layers` must hold layer names (str) or layer objects. "
                    f"Received: {item!r} (of type {type(item).__name__})"
                )
        return items

    def _resolve_tables(self):
        """`[(display_name, EmbeddingTable)]` of the selected tables with frozen rows."""
        model = self.model
        owners = find_table_layers(model)
        with_tables = sorted({layer.name for layer, _ in owners})
        if self._selection is None:
            if not owners:
                raise ValueError(
                    "UnfreezeSchedule found no keras_embedx table in the model "
                    f"{model.name!r}. It works with keras_embedx layers such as "
                    "PretrainedEmbedding built with frozen rows and "
                    "`schedulable=True`."
                )
            chosen = owners
        else:
            layers = list(iter_layers(model, include_self=False))
            by_name = {}
            for layer in layers:
                by_name.setdefault(layer.name, layer)
            in_model = {id(layer) for layer in layers}
            chosen = []
            for item in self._selection:
                if isinstance(item, str):
                    if item not in by_name:
                        raise ValueError(
                            f"No layer named {item!r} in model {model.name!r}. "
                            f"Layers with tables: {with_tables}"
                        )
                    layer = by_name[item]
                elif id(item) not in in_model:
                    raise ValueError(
                        f"Layer {item.name!r} is not part of model {model.name!r}. "
                        f"Layers with tables: {with_tables}"
                    )
                else:
                    layer = item
                chosen.append((layer, self._tables_of(layer)))
                if not chosen[-1][1]:
                    raise ValueError(
                        f"Layer {layer.name!r} ({type(layer).__name__}) has no "
                        "keras_embedx embedding table, so UnfreezeSchedule cannot "
                        f"change it. Layers with tables: {with_tables}"
                    )
        tables, seen = [], set()
        for layer, owned in chosen:
            with_frozen = [(n, t) for n, t, _ in owned if t.num_frozen]
            if self._selection is not None and not with_frozen:
                raise ValueError(
                    f"Layer {layer.name!r} has no frozen rows, so there is "
                    "nothing to unfreeze: its rows already learn at the full "
                    "rate. Build it with freeze='pretrained' (or 'all') and "
                    "`schedulable=True`."
                )
            for name, table in with_frozen:
                if id(table) not in seen:
                    seen.add(id(table))
                    tables.append((f"{layer.name}/{name}", table))
        if not tables:
            raise ValueError(
                "UnfreezeSchedule found no table with frozen rows in model "
                f"{model.name!r}: every row already learns at the full rate. "
                "Build the layers with freeze='pretrained' (or 'all') and "
                "`schedulable=True`."
            )
        return tables

    @staticmethod
    def _tables_of(layer):
        """The tables of `layer`, or of the table layers nested in it."""
        if isinstance(layer, TableLayer):
            return list(layer.embedding_tables())
        return [
            (f"{owner.name}/{name}", table, vocabulary)
            for owner, (name, table, vocabulary) in iter_tables(layer)
        ]

    # ------------------------------------------------------------ checking
    def _planned_factors(self):
        """Factors the coming `fit` will use, or None when too many to list."""
        if self._fn is None:
            return [factor for _, factor in self._points]
        epochs = self.params.get("epochs") if self.params else None
        if epochs is None:
            return None
        if self.per == "epoch":
            return self.factors(epochs)
        steps = self.params.get("steps")
        if steps is None or epochs * steps > _MAX_PRECHECK:
            return None
        return self.factors(epochs * steps)

    def _check_tables(self, tables, planned):
        if planned is not None and not any(f > 0 for f in planned):
            return
        fixed = [name for name, table in tables if not table.schedulable]
        if fixed:
            raise ValueError(
                "UnfreezeSchedule would let frozen rows learn, but these tables "
                f"keep them in a non-trainable variable: {fixed}. Build the "
                "layers with `schedulable=True`, e.g. "
                "`PretrainedEmbedding.from_vectors(wv, vocab, "
                "freeze='pretrained', schedulable=True)`, or select the "
                "schedulable ones with `layers=`."
            )

    # ----------------------------------------------------------- callbacks
    def on_train_begin(self, logs=None):
        tables = self._resolve_tables()
        self._check_tables(tables, self._planned_factors())
        self._tables = tables
        self._applied = {
            id(table): table.factor if table.built else 0.0 for _, table in tables
        }
        self._steps_per_epoch = self.params.get("steps") if self.params else None
        self._counted_steps = None

    def on_epoch_begin(self, epoch, logs=None):
        if self._tables is None:  # used outside `fit`
            self.on_train_begin()
        if self.per == "epoch":
            self._apply(self.factor_at(epoch), f"epoch {epoch + 1}")
            return
        if self._steps_per_epoch is not None:
            self._epoch_start_step = epoch * self._steps_per_epoch
        elif self._counted_steps is None:
            if epoch:
                raise ValueError(
                    "UnfreezeSchedule(per='step') cannot tell the step at which "
                    f"epoch {epoch} starts: the number of steps per epoch is "
                    "unknown. Pass `steps_per_epoch` to `fit`."
                )
            self._counted_steps = 0
            self._epoch_start_step = 0
        else:
            self._epoch_start_step = self._counted_steps
        step = self._epoch_start_step
        self._apply(self.factor_at(step), f"epoch {epoch + 1}, step {step}")

    def on_train_batch_begin(self, batch, logs=None):
        if self.per != "step":
            return
        step = self._epoch_start_step + batch
        if self._counted_steps is not None:
            self._counted_steps = step + 1
        self._apply(self.factor_at(step), f"step {step}")

    def on_epoch_end(self, epoch, logs=None):
        if self.log_key is not None and logs is not None and self._tables:
            logs[self.log_key] = float(self._applied[id(self._tables[0][1])])

    # ------------------------------------------------------------- applying
    def _apply(self, factor, where):
        stale = [t for _, t in self._tables if self._applied.get(id(t)) != factor]
        if not stale:
            return
        # On JAX the trainer keeps the variables' values in its own state
        # during an epoch; bring them back so the assignment below is what
        # the next train step reads.
        if keras.config.backend() == "jax":
            self.model.jax_state_sync()
        for table in stale:
            table.set_factor(factor)
            self._applied[id(table)] = factor
        if self.verbose:
            print(f"UnfreezeSchedule: {where}: unfreeze factor {factor:g}")
