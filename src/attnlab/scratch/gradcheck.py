"""Numerical gradient checking for the NumPy layers.

The idea: pick random upstream gradients G_j for every output y_j, so the scalar loss
L = Σ_j Σ G_j ⊙ y_j has ∂L/∂y_j = G_j. Feed G to `backward`, and compare what comes back with
central differences of L, one element at a time. Use float64: in float32 the difference quotient
is dominated by rounding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

Array = np.ndarray


def numeric_grad(f: Callable[[Array], float], x: Array, eps: float = 1e-6) -> Array:
    """∂f/∂x by central differences: (f(x + ε e_i) - f(x - ε e_i)) / 2ε for every element i.

    `x` is perturbed **in place** and restored, so f may read it through a closure (a layer's
    parameter array, an input the layer was given); f also receives it as its argument.
    Error is O(ε²) from truncation plus O(machine-ε · |f| / ε) from rounding.
    """
    if x.dtype.kind != "f":
        raise TypeError(f"numeric_grad needs a floating-point array, got {x.dtype}")
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + eps
        f_plus = f(x)
        x[idx] = old - eps
        f_minus = f(x)
        x[idx] = old
        grad[idx] = (f_plus - f_minus) / (2.0 * eps)
    return grad


def relative_error(a: Array, b: Array) -> float:
    """‖a - b‖ / (‖a‖ + ‖b‖) over the whole array (Frobenius norms); 0 when both are zero.

    Whole-array norms rather than the elementwise maximum, so that an element that is tiny in both
    (where central differences have only absolute accuracy) cannot dominate. A shape mismatch is inf.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return float("inf")
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denom == 0.0 else float(np.linalg.norm(a - b) / denom)


def _as_tuple(out: Any) -> tuple[Array, ...]:
    return tuple(out) if isinstance(out, tuple | list) else (out,)


def check_layer(
    layer: Any,
    inputs: Sequence[Array],
    *,
    kwargs: dict[str, Any] | None = None,
    eps: float = 1e-6,
    tol: float | None = 1e-6,
    seed: int = 0,
) -> dict[str, float]:
    """Check `layer.backward` against central differences for every input and every parameter.

    The layer follows the scratch protocol: `forward(*inputs, **kwargs)` returns an array or a tuple;
    `backward(*d_outputs)` returns one gradient per input, in order, and writes `layer.grads`
    (one per `layer.params`). `kwargs` carries what is not differentiated (a boolean mask).

    Returns {"input i" | "param j": relative error}. With `tol` set, raises AssertionError naming every
    gradient whose error is above `tol` (or NaN).
    """
    kwargs = kwargs or {}
    xs = [np.array(x, copy=True) for x in inputs]  # perturbed in place below; the caller's stay intact
    outs = _as_tuple(layer.forward(*xs, **kwargs))
    rng = np.random.default_rng(seed)
    upstream = [rng.standard_normal(o.shape).astype(o.dtype) for o in outs]

    def loss(_: Array | None = None) -> float:
        ys = _as_tuple(layer.forward(*xs, **kwargs))
        return float(sum(np.sum(g * y) for g, y in zip(upstream, ys, strict=True)))

    loss()  # refill the cache at the unperturbed point
    d_inputs = _as_tuple(layer.backward(*upstream))
    assert len(d_inputs) == len(xs), f"backward returned {len(d_inputs)} gradients for {len(xs)} inputs"
    d_params = [g.copy() for g in layer.grads]
    assert len(d_params) == len(layer.params), "layer.grads and layer.params differ in length"

    errors: dict[str, float] = {}
    for i, (x, dx) in enumerate(zip(xs, d_inputs, strict=True)):
        errors[f"input {i}"] = relative_error(dx, numeric_grad(loss, x, eps))
    for j, (p, dp) in enumerate(zip(layer.params, d_params, strict=True)):
        errors[f"param {j}"] = relative_error(dp, numeric_grad(loss, p, eps))
    if tol is not None:
        bad = {k: e for k, e in errors.items() if not e <= tol}
        if bad:
            raise AssertionError(f"{type(layer).__name__}: gradient check failed (tol {tol:g}): {bad}")
    return errors
