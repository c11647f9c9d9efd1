"""Optimizers and learning-rate schedules: the notebook's "Optimizers" chapter.

An optimizer turns the gradients that a backward pass left in ``layer.grads`` into a change of
``layer.params``. Plain gradient descent is ``p <- p - lr * g``; the others keep a memory of past
gradients (a velocity, running moments) to move faster along consistent directions and slower
along noisy ones. Every update rule and default matches ``torch.optim`` (the tests compare them).

What all optimizers share:

* ``opt.step(network)`` updates every parameter of ``network.layers`` (or of a plain list of
  layers) in place: the arrays in ``layer.params`` keep their identity. It reads ``layer.grads``
  and never needs a ``zero_grad``, because each backward overwrites the gradients.
* The optimizer owns its state (velocities, moments, step counts), never the layers. It is keyed
  by position: ``"3.W"`` is parameter ``"W"`` of ``layers[3]``.
* ``opt.lr`` is the current learning rate, a float a schedule may change between steps.
* ``clip_norm``: if set, the gradients are first scaled **in place** (as
  ``torch.nn.utils.clip_grad_norm_`` does) so that their global L2 norm over all parameters is at
  most ``clip_norm``: g <- g * min(1, clip_norm / (||g|| + 1e-6)). After ``step`` the layers'
  ``grads`` hold the clipped gradients; ``opt.last_grad_norm`` is the norm before clipping. A
  non-finite norm leaves the gradients as they are (the loss will show the divergence).
* ``opt.state_dict()`` is a flat ``{str: ndarray}`` that goes through ``np.savez`` and
  ``np.load(allow_pickle=False)`` unchanged; ``opt.load_state_dict(d)`` restores it, so training
  resumes bit-identically.
* Work is done in the parameter's dtype with in-place ufuncs on scratch arrays allocated once per
  parameter: a float32 network stays float32 and a step allocates no new arrays.

The learning-rate schedules at the end are callbacks for ``fit(callbacks=[...])``.
"""

from __future__ import annotations

import math

import numpy as np

from ._validation import check_float

# As torch.nn.utils.clip_grad_norm_: keeps the clipping scale finite for an all-zero gradient.
_CLIP_EPS = 1e-6


def _check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}.")
    return bool(value)


# -- in-place building blocks (out= everywhere: no array is allocated during a step) --------------
def _with_weight_decay(g, p, weight_decay, out):
    """The L2-regularised gradient g + wd p, written to ``out``; g itself when wd is 0."""
    if not weight_decay:
        return g
    np.multiply(p, weight_decay, out=out)
    out += g
    return out


def _ema(avg, x, beta, tmp):
    """avg <- beta avg + (1 - beta) x, in place. ``tmp`` is scratch and may be ``x`` itself."""
    avg *= beta
    np.multiply(x, 1.0 - beta, out=tmp)
    avg += tmp


def _descend(p, direction, lr, tmp):
    """p <- p - lr direction, in place. ``tmp`` is scratch and may be ``direction`` itself."""
    np.multiply(direction, lr, out=tmp)
    np.subtract(p, tmp, out=p)


def _encode(value):
    """A hyper-parameter as an array np.savez keeps without pickling (None becomes NaN)."""
    return np.array(np.nan if value is None else value)


def _decode(arr):
    """Inverse of ``_encode``: NaN stands for None, a 1-D array for a tuple."""
    arr = np.asarray(arr)
    value = arr.tolist()
    if arr.dtype.kind == "f" and arr.ndim == 0 and math.isnan(value):
        return None
    return tuple(value) if isinstance(value, list) else value


def _same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    floats = a.dtype.kind == "f" and b.dtype.kind == "f"
    return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=floats))


_COUNTERS = ("optimizer", "lr", "initial_lr", "iterations", "epochs")


def _layers_of(network):
    layers = getattr(network, "layers", network)
    if not isinstance(layers, (list, tuple)):
        raise TypeError(
            "step() takes a network (an object with a .layers list) or a list of layers, got "
            f"{type(network).__name__}."
        )
    return layers


class Optimizer:
    """Base class: walks the parameters, clips, keeps and saves the per-parameter state.

    A subclass sets ``_hyper`` (its hyper-parameters besides ``lr``), ``_buffers`` (the names of
    the arrays it keeps per parameter) and implements ``_update(p, g, state, work, lr)``, which
    changes ``p`` in place using the gradient ``g``, its ``state`` dict and the scratch arrays
    ``work`` (as many as ``_n_work()``, shaped like ``p``).
    """

    _hyper = ()
    _buffers = ()

    def __init__(self, lr, clip_norm=None):
        self._lr = check_float(lr, "lr", low=0.0, low_open=True)
        self.initial_lr = self._lr  # where learning-rate schedules start from, also when resumed
        self.epochs = 0  # epochs of fit completed with this optimizer: where a resumed fit starts
        self.clip_norm = (None if clip_norm is None else
                          check_float(clip_norm, "clip_norm", low=0.0, low_open=True))
        self.state = {}  # "3.W" -> {"step": int, buffer name: array}
        self.iterations = 0
        self.last_grad_norm = None
        self._scratch = {}  # "3.W" -> scratch arrays; never saved
        self._bound = {}  # "3.W" -> the parameter array its state was last checked against
        self._check_keys = False  # set by load_state_dict: the next step checks the key sets

    # -- the learning rate ------------------------------------------------------------------------
    @property
    def lr(self):
        """The current learning rate. Schedules may set it to any finite value >= 0 (a cosine
        schedule reaches 0); the constructor asks for lr > 0."""
        return self._lr

    @lr.setter
    def lr(self, value):
        self._lr = check_float(value, "lr", low=0.0)

    # -- stepping ---------------------------------------------------------------------------------
    def step(self, network):
        """Update every parameter of ``network`` (or of a list of layers) from its gradient.

        Every check (gradients present and shaped like their parameters, restored state matching
        the network) happens before any parameter changes, so a failed step changes nothing.
        """
        params = self._gather(network)
        if self._check_keys:
            self._check_restored_keys(params)
        states = [self._state_for(key, p) for key, p, _ in params]
        if self.clip_norm is not None:
            self._clip(params)
        lr = self._lr
        for (key, p, g), state in zip(params, states, strict=True):
            state["step"] += 1
            self._update(p, g, state, self._work(key, p), lr)
        self.iterations += 1

    def _gather(self, network):
        """[(key, param, grad)] for every parameter, with the gradients checked."""
        params = []
        for i, layer in enumerate(_layers_of(network)):
            layer_params = getattr(layer, "params", None)
            grads = getattr(layer, "grads", None)
            if not isinstance(layer_params, dict) or not isinstance(grads, dict):
                raise TypeError(
                    f"layers[{i}] ({type(layer).__name__}) is not a layer: it needs dicts "
                    "`params` and `grads`."
                )
            for name, p in layer_params.items():
                g = grads.get(name)
                if g is None:
                    raise ValueError(
                        f"layers[{i}] ({type(layer).__name__}) has no gradient for parameter "
                        f"{name!r}; run a backward pass before step()."
                    )
                if getattr(g, "shape", None) != getattr(p, "shape", None):
                    raise ValueError(
                        f"layers[{i}] ({type(layer).__name__}) gradient {name!r} has shape "
                        f"{getattr(g, 'shape', None)} but the parameter has shape "
                        f"{getattr(p, 'shape', None)}."
                    )
                params.append((f"{i}.{name}", p, g))
        return params

    def _check_restored_keys(self, params):
        keys = {key for key, _, _ in params}
        extra, missing = sorted(set(self.state) - keys), sorted(keys - set(self.state))
        if extra or missing:
            raise ValueError(
                "the restored optimizer state does not fit this network: "
                f"state for parameters the network lacks: {extra}; "
                f"parameters without restored state: {missing}."
            )
        self._check_keys = False

    def _state_for(self, key, p):
        state = self.state.get(key)
        if state is None:
            state = self.state[key] = {"step": 0}
        if self._bound.get(key) is not p:
            self._bind(key, p, state)
        return state

    def _bind(self, key, p, state):
        """Check a (new or restored) state against the parameter array it will update."""
        if not isinstance(p, np.ndarray) or p.dtype.kind != "f":
            raise TypeError(
                f"parameter {key} must be a float ndarray to be updated in place, got "
                f"{type(p).__name__} of dtype {getattr(p, 'dtype', None)}."
            )
        for name, arr in state.items():
            if name == "step":
                continue
            if arr.shape != p.shape:
                raise ValueError(
                    f"optimizer state {name!r} of parameter {key} has shape {arr.shape} but the "
                    f"parameter has shape {p.shape}; was it saved from another network?"
                )
            if arr.dtype != p.dtype:
                state[name] = arr.astype(p.dtype)
        self._scratch.pop(key, None)
        self._bound[key] = p

    def _buffer(self, state, name, p, fill=0.0):
        """The state array ``name`` of a parameter, created (filled with ``fill``) on first use."""
        arr = state.get(name)
        if arr is None:
            arr = state[name] = np.full_like(p, fill)
        return arr

    def _n_work(self):
        return 1

    def _work(self, key, p):
        work = self._scratch.get(key)
        if work is None or len(work) < self._n_work():
            work = self._scratch[key] = [np.empty_like(p) for _ in range(self._n_work())]
        return work

    def _clip(self, params):
        # np.vdot works on the flat arrays without building g * g.
        total = math.sqrt(sum(float(np.vdot(g, g)) for _, _, g in params))
        self.last_grad_norm = total
        scale = self.clip_norm / (total + _CLIP_EPS)
        if math.isfinite(total) and scale < 1.0:
            for _, _, g in params:
                np.multiply(g, scale, out=g)

    def _update(self, p, g, state, work, lr):
        raise NotImplementedError

    # -- saving -----------------------------------------------------------------------------------
    def hyperparameters(self):
        """The hyper-parameters other than ``lr``, as a dict."""
        out = {name: getattr(self, name) for name in self._hyper}
        out["clip_norm"] = self.clip_norm
        return out

    def state_dict(self):
        """A snapshot of the optimizer as a flat ``{str: ndarray}`` (arrays are copies).

        Keys: ``optimizer`` (class name), ``lr``, ``initial_lr``, ``iterations``, ``epochs``,
        ``hyper.<name>`` for each
        hyper-parameter (None saved as NaN) and ``state.<layer>.<param>.<buffer>`` for each state
        array, with ``...step`` the number of updates that parameter has had.
        """
        out = {
            "optimizer": np.array(type(self).__name__),
            "lr": np.array(self._lr),
            "initial_lr": np.array(self.initial_lr),
            "iterations": np.array(self.iterations, dtype=np.int64),
            "epochs": np.array(self.epochs, dtype=np.int64),
        }
        for name, value in self.hyperparameters().items():
            out[f"hyper.{name}"] = _encode(value)
        for key, state in self.state.items():
            for name, value in state.items():
                arr = np.array(value, dtype=np.int64) if name == "step" else value.copy()
                out[f"state.{key}.{name}"] = arr
        return out

    @staticmethod
    def from_state_dict(state_dict):
        """A new optimizer of the saved class with the saved hyper-parameters and state.

        Only the optimizer classes of this module can be named by the state, so a file cannot
        make anything else run.
        """
        if not hasattr(state_dict, "keys") or "optimizer" not in state_dict.keys():
            raise ValueError("the state has no 'optimizer' entry; is it an optimizer state?")
        name = np.asarray(state_dict["optimizer"])
        cls = _CLASSES.get(str(name)) if name.dtype.kind == "U" else None
        if cls is None:
            raise ValueError(
                f"unknown optimizer class {name.tolist()!r}; expected one of {sorted(_CLASSES)}."
            )
        kwargs = {k[len("hyper."):]: _decode(state_dict[k]) for k in state_dict.keys()
                  if k.startswith("hyper.")}
        try:
            optimizer = cls(**kwargs)  # lr and the step counts come from load_state_dict
        except TypeError as exc:
            raise ValueError(
                f"the saved hyper-parameters do not fit {cls.__name__}: {exc}"
            ) from None
        optimizer.load_state_dict(state_dict)
        return optimizer

    def load_state_dict(self, state_dict):
        """Restore a ``state_dict()`` (a dict, or the result of ``np.load`` on a saved ``.npz``).

        The optimizer class and every hyper-parameter other than ``lr`` must match the saved ones
        (a mismatch is refused with the differences named); ``lr`` and the step counts are
        restored. The arrays are checked against the network at the next ``step``.
        """
        if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
            raise TypeError(
                f"load_state_dict() takes a dict from state_dict() or np.load, got "
                f"{type(state_dict).__name__}."
            )
        keys = list(state_dict.keys())
        for required in ("optimizer", "lr", "iterations"):
            if required not in keys:
                raise ValueError(f"the state has no {required!r} entry; is it an optimizer state?")
        saved_class = np.asarray(state_dict["optimizer"])
        if saved_class.dtype.kind != "U" or str(saved_class) != type(self).__name__:
            raise ValueError(
                f"the state was saved from a {saved_class} optimizer; it cannot be loaded into "
                f"{type(self).__name__}."
            )
        self._check_saved_hyper(state_dict, keys)
        lr = check_float(np.asarray(state_dict["lr"]).item(), "the saved lr", low=0.0)
        # States saved before scratchnn 0.2 have no initial_lr and epochs.
        initial_lr = lr
        if "initial_lr" in keys:
            initial_lr = check_float(np.asarray(state_dict["initial_lr"]).item(),
                                     "the saved initial_lr", low=0.0, low_open=True)
        iterations = self._saved_count(state_dict["iterations"], "iterations")
        epochs = self._saved_count(state_dict["epochs"], "epochs") if "epochs" in keys else 0
        state = self._saved_state(state_dict, keys)
        self.state, self._lr, self.iterations = state, lr, iterations
        self.initial_lr, self.epochs = initial_lr, epochs
        self._bound.clear()
        self._scratch.clear()
        self._check_keys = bool(state)

    def _check_saved_hyper(self, state_dict, keys):
        mine = {f"hyper.{k}": v for k, v in self.hyperparameters().items()}
        saved = [k for k in keys if k.startswith("hyper.")]
        unknown = sorted(set(saved) - set(mine))
        absent = sorted(set(mine) - set(saved))
        if unknown or absent:
            raise ValueError(
                f"the saved hyper-parameters do not match {type(self).__name__}'s: "
                f"unexpected {unknown}, missing {absent}."
            )
        differ = [
            f"{k[len('hyper.'):]}={np.asarray(state_dict[k]).tolist()} (here {v!r})"
            for k, v in mine.items() if not _same(state_dict[k], _encode(v))
        ]
        if differ:
            raise ValueError(
                f"the state was saved with other hyper-parameters: {', '.join(differ)}; create "
                f"the {type(self).__name__} with the saved values to resume it."
            )

    @staticmethod
    def _saved_count(value, name):
        arr = np.asarray(value)
        if arr.shape != () or arr.dtype.kind not in "iu" or arr < 0:
            raise ValueError(f"the saved {name} must be a 0-d integer array >= 0, got {arr!r}.")
        return int(arr)

    def _saved_state(self, state_dict, keys):
        state = {}
        for k in keys:
            if k in _COUNTERS or k.startswith("hyper."):
                continue
            key, _, name = k[len("state."):].rpartition(".")
            if not k.startswith("state.") or not key or name not in ("step", *self._buffers):
                raise ValueError(
                    f"unknown entry {k!r} in the state; {type(self).__name__} keeps "
                    f"{['step', *self._buffers]} per parameter."
                )
            if name == "step":
                value = self._saved_count(state_dict[k], k)
            else:
                value = np.array(state_dict[k])
                if value.dtype.kind != "f":
                    raise ValueError(f"state entry {k!r} must be a float array, got {value.dtype}.")
            state.setdefault(key, {})[name] = value
        for key, entry in state.items():
            if "step" not in entry:
                raise ValueError(f"the state of parameter {key} has no step count.")
        return state

    def __repr__(self):
        args = {"lr": self._lr, **self.hyperparameters()}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in args.items())})"


class SGD(Optimizer):
    r"""Stochastic gradient descent, with optional momentum, Nesterov momentum and L2 decay.

    With g_t the gradient (plus ``weight_decay * p`` when that is set)::

        plain:     p <- p - lr g_t
        momentum:  v_t = momentum v_{t-1} + g_t   (v_0 = 0)
                   p <- p - lr v_t
        nesterov:  p <- p - lr (g_t + momentum v_t)

    As ``torch.optim.SGD`` with ``dampening=0``. Default lr 0.01.
    """

    _hyper = ("momentum", "nesterov", "weight_decay")
    _buffers = ("momentum_buffer",)

    def __init__(self, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0, *,
                 clip_norm=None):
        super().__init__(lr, clip_norm)
        self.momentum = check_float(momentum, "momentum", low=0.0)
        self.nesterov = _check_bool(nesterov, "nesterov")
        self.weight_decay = check_float(weight_decay, "weight_decay", low=0.0)
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov=True needs a momentum > 0.")

    def _n_work(self):
        return 2 if self.weight_decay and self.nesterov else 1

    def _update(self, p, g, state, work, lr):
        g = _with_weight_decay(g, p, self.weight_decay, work[0])
        if self.momentum:
            velocity = self._buffer(state, "momentum_buffer", p)
            velocity *= self.momentum
            velocity += g
            if self.nesterov:
                np.multiply(velocity, self.momentum, out=work[-1])
                work[-1] += g
                g = work[-1]
            else:
                g = velocity
        _descend(p, g, lr, work[-1])


class RMSProp(Optimizer):
    r"""Divide each gradient by a running root-mean-square of its recent values.

    With g_t the gradient (plus ``weight_decay * p`` when that is set)::

        s_t = alpha s_{t-1} + (1 - alpha) g_t^2          (s_0 = 0)
        d_t = g_t / (sqrt(s_t) + eps)
        p <- p - lr d_t                 (momentum = 0)
        b_t = momentum b_{t-1} + d_t;  p <- p - lr b_t   (momentum > 0)

    As ``torch.optim.RMSprop`` (not centered): eps is added outside the square root. Defaults
    lr=0.01, alpha=0.99, eps=1e-8.
    """

    _hyper = ("alpha", "eps", "weight_decay", "momentum")
    _buffers = ("square_avg", "momentum_buffer")

    def __init__(self, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, *,
                 clip_norm=None):
        super().__init__(lr, clip_norm)
        self.alpha = check_float(alpha, "alpha", low=0.0, high=1.0, high_open=True)
        self.eps = check_float(eps, "eps", low=0.0, low_open=True)
        self.weight_decay = check_float(weight_decay, "weight_decay", low=0.0)
        self.momentum = check_float(momentum, "momentum", low=0.0)

    def _n_work(self):
        return 2 if self.weight_decay else 1

    def _update(self, p, g, state, work, lr):
        g = _with_weight_decay(g, p, self.weight_decay, work[0])
        square_avg = self._buffer(state, "square_avg", p)
        d = work[-1]
        np.multiply(g, g, out=d)
        _ema(square_avg, d, self.alpha, d)
        np.sqrt(square_avg, out=d)
        d += self.eps
        np.divide(g, d, out=d)
        if self.momentum:
            buf = self._buffer(state, "momentum_buffer", p)
            buf *= self.momentum
            buf += d
            _descend(p, buf, lr, d)
        else:
            _descend(p, d, lr, d)


class Adagrad(Optimizer):
    r"""Per-coordinate learning rates shrinking with the sum of all past squared gradients.

    With g_t the gradient (plus ``weight_decay * p`` when that is set)::

        G_t = G_{t-1} + g_t^2                      (G_0 = initial_accumulator_value)
        lr_t = lr / (1 + (t - 1) lr_decay)
        p <- p - lr_t g_t / (sqrt(G_t) + eps)

    As ``torch.optim.Adagrad``. Defaults lr=0.01, eps=1e-10.
    """

    _hyper = ("lr_decay", "weight_decay", "initial_accumulator_value", "eps")
    _buffers = ("sum",)

    def __init__(self, lr=0.01, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                 eps=1e-10, *, clip_norm=None):
        super().__init__(lr, clip_norm)
        self.lr_decay = check_float(lr_decay, "lr_decay", low=0.0)
        self.weight_decay = check_float(weight_decay, "weight_decay", low=0.0)
        self.initial_accumulator_value = check_float(
            initial_accumulator_value, "initial_accumulator_value", low=0.0)
        self.eps = check_float(eps, "eps", low=0.0, low_open=True)

    def _n_work(self):
        return 2 if self.weight_decay else 1

    def _update(self, p, g, state, work, lr):
        g = _with_weight_decay(g, p, self.weight_decay, work[0])
        total = self._buffer(state, "sum", p, self.initial_accumulator_value)
        d = work[-1]
        np.multiply(g, g, out=d)
        total += d
        np.sqrt(total, out=d)
        d += self.eps
        np.divide(g, d, out=d)
        _descend(p, d, lr / (1.0 + (state["step"] - 1) * self.lr_decay), d)


class Adam(Optimizer):
    r"""Adaptive moment estimation: momentum on the gradient, RMSProp on its scale, both
    corrected for their zero start.

    With g_t the gradient (plus ``weight_decay * p`` when that is set: L2, coupled)::

        m_t = beta1 m_{t-1} + (1 - beta1) g_t            (m_0 = 0)
        v_t = beta2 v_{t-1} + (1 - beta2) g_t^2          (v_0 = 0)
        v_t <- max(v_{t-1}^max, v_t)                      (amsgrad only; kept as v^max)
        p <- p - lr/(1 - beta1^t) * m_t / (sqrt(v_t / (1 - beta2^t)) + eps)

    As ``torch.optim.Adam``. Defaults lr=0.001, betas=(0.9, 0.999), eps=1e-8.
    """

    _hyper = ("betas", "eps", "weight_decay", "amsgrad")
    _buffers = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    _decoupled = False

    def __init__(self, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                 *, clip_norm=None):
        super().__init__(lr, clip_norm)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}.")
        self.betas = tuple(
            check_float(b, f"betas[{i}]", low=0.0, high=1.0, high_open=True)
            for i, b in enumerate(betas)
        )
        self.eps = check_float(eps, "eps", low=0.0, low_open=True)
        self.weight_decay = check_float(weight_decay, "weight_decay", low=0.0)
        self.amsgrad = _check_bool(amsgrad, "amsgrad")

    def _n_work(self):
        return 2 if self.weight_decay and not self._decoupled else 1

    def _update(self, p, g, state, work, lr):
        beta1, beta2 = self.betas
        if self._decoupled:
            if self.weight_decay:
                p *= 1.0 - lr * self.weight_decay
        else:
            g = _with_weight_decay(g, p, self.weight_decay, work[0])
        m = self._buffer(state, "exp_avg", p)
        v = self._buffer(state, "exp_avg_sq", p)
        d = work[-1]
        _ema(m, g, beta1, d)
        np.multiply(g, g, out=d)
        _ema(v, d, beta2, d)
        if self.amsgrad:
            v_max = self._buffer(state, "max_exp_avg_sq", p)
            np.maximum(v_max, v, out=v_max)
            v = v_max
        t = state["step"]
        correction1, root_correction2 = 1.0 - beta1**t, math.sqrt(1.0 - beta2**t)
        # lr/c1 * m / (sqrt(v)/sqrt(c2) + eps) == (lr sqrt(c2)/c1) * m / (sqrt(v) + eps sqrt(c2)),
        # which saves a pass over the parameter.
        np.sqrt(v, out=d)
        d += self.eps * root_correction2
        np.divide(m, d, out=d)
        _descend(p, d, lr * root_correction2 / correction1, d)


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter): the decay shrinks the weights
    directly instead of entering the gradient, so the adaptive scaling does not weaken it::

        p <- p (1 - lr weight_decay), then the Adam step with g_t the plain gradient.

    As ``torch.optim.AdamW``. Defaults lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01.
    """

    _decoupled = True

    def __init__(self, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, amsgrad=False,
                 *, clip_norm=None):
        super().__init__(lr, betas, eps, weight_decay, amsgrad, clip_norm=clip_norm)


_CLASSES = {cls.__name__: cls for cls in (SGD, RMSProp, Adagrad, Adam, AdamW)}

# name -> (class, constructor arguments besides lr)
OPTIMIZERS = {
    "sgd": (SGD, {}),
    "momentum": (SGD, {"momentum": 0.9}),
    "rmsprop": (RMSProp, {}),
    "adagrad": (Adagrad, {}),
    "adam": (Adam, {}),
    "adamw": (AdamW, {}),
}


def get_optimizer(optimizer, lr=None):
    """An optimizer from an instance (returned as it is) or a name in ``OPTIMIZERS``.

    ``lr`` sets the learning rate of a named optimizer (None: its default). With an instance,
    give the learning rate to its constructor instead: ``lr`` is then refused.
    """
    if isinstance(optimizer, Optimizer):
        if lr is not None:
            raise ValueError(
                f"lr={lr!r} was given with an optimizer instance, which has its own lr "
                f"({optimizer.lr!r}); set the learning rate in its constructor instead."
            )
        return optimizer
    if isinstance(optimizer, str) and optimizer.lower() in OPTIMIZERS:
        cls, kwargs = OPTIMIZERS[optimizer.lower()]
        return cls(**kwargs) if lr is None else cls(lr, **kwargs)
    raise ValueError(
        f"unknown optimizer {optimizer!r}; choose an Optimizer object or one of "
        f"{sorted(OPTIMIZERS)}."
    )


# -- learning-rate schedules: callbacks, whose home is scratchnn.callbacks; the names stay
# importable from here for code written before they moved.
from .callbacks import (  # noqa: E402
    ConstantLR,
    CosineAnnealing,
    ExponentialDecay,
    LRSchedule,
    ReduceLROnPlateau,
    StepDecay,
)

__all__ = [
    "OPTIMIZERS", "SGD", "Adagrad", "Adam", "AdamW", "ConstantLR", "CosineAnnealing",
    "ExponentialDecay", "LRSchedule", "Optimizer", "RMSProp", "ReduceLROnPlateau", "StepDecay",
    "get_optimizer",
]
