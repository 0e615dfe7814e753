"""The L-BFGS of ``--optimizer lbfgs`` (nst/gatys/lbfgs.py): minima inside and on the bounds, as few
iterations as scipy's L-BFGS-B, a clear stop when the gradient is wrong, and NumPy's BLAS kept off
TensorFlow's cores while it runs."""
from __future__ import annotations

import numpy as np
import pytest

from nst.gatys import lbfgs


def rosenbrock(x: np.ndarray) -> tuple[float, np.ndarray]:
    """The extended Rosenbrock function and its gradient (minimum 0 at x = 1)."""
    a, b = x[:-1], x[1:]
    f = float(np.sum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2))
    g = np.zeros_like(x)
    g[:-1] = -400.0 * a * (b - a * a) - 2.0 * (1.0 - a)
    g[1:] += 200.0 * (b - a * a)
    return f, g


def test_a_bounded_quadratic_ends_at_its_minimum_clipped_to_the_bounds():
    rng = np.random.default_rng(0)
    n = 500
    curvature, centre = rng.uniform(1, 100, n), rng.uniform(-0.5, 1.5, n)   # about half outside [0, 1]

    def fun(x):
        return float(0.5 * np.sum(curvature * (x - centre) ** 2)), curvature * (x - centre)

    result = lbfgs.minimize(fun, np.full(n, 0.5), np.zeros(n), np.ones(n), maxiter=300, ftol=0.0, gtol=1e-9)
    assert result.success, result.message
    assert np.abs(result.x - np.clip(centre, 0, 1)).max() < 1e-5   # measured 1.3e-7 (68 iterations)
    assert ((result.x >= 0) & (result.x <= 1)).all()


def test_a_minimum_beyond_the_bounds_stops_on_the_projected_gradient():
    """At x = hi the gradient still points outwards; projected, it is zero: that is convergence."""
    def fun(x):
        return float(0.5 * np.sum((x - 2.0) ** 2)), x - 2.0

    result = lbfgs.minimize(fun, np.full(20, 0.5), np.zeros(20), np.ones(20), maxiter=50)
    assert result.message == "the projected gradient is <= gtol" and result.success
    np.testing.assert_array_equal(result.x, np.ones(20))


def test_rosenbrock_takes_no_more_iterations_than_scipys_l_bfgs_b():
    scipy_optimize = pytest.importorskip("scipy.optimize")
    x0 = np.tile([-1.2, 1.0], 50)
    lo, hi = np.full(100, -5.0), np.full(100, 5.0)
    ours = lbfgs.minimize(rosenbrock, x0, lo, hi, maxiter=1000)
    theirs = scipy_optimize.minimize(rosenbrock, x0, jac=True, method="L-BFGS-B",
                                     bounds=scipy_optimize.Bounds(lo, hi), options={"maxiter": 1000})
    assert ours.fun < 1e-8 and np.abs(ours.x - 1).max() < 1e-3, ours
    # measured: 513 iterations here, 512 for scipy; the margin covers a different line search's path
    assert ours.nit <= 1.2 * theirs.nit, (ours.nit, theirs.nit)


def test_a_gradient_that_points_uphill_stops_the_run_with_a_message():
    def fun(x):
        f, g = rosenbrock(x)
        return f, -g

    result = lbfgs.minimize(fun, np.tile([-1.2, 1.0], 5), np.full(10, -5.0), np.full(10, 5.0), maxiter=50)
    assert not result.success and result.message == "the line search found no decrease"
    assert result.nit == 0 and result.nfev <= lbfgs.MAX_HALVINGS + 1


def test_the_iteration_and_evaluation_limits_hold_and_the_callback_sees_every_iteration():
    seen = []
    result = lbfgs.minimize(rosenbrock, np.tile([-1.2, 1.0], 5), np.full(10, -5.0), np.full(10, 5.0),
                            maxiter=7, callback=lambda x: seen.append(x.copy()))
    assert result.nit == 7 == len(seen) and result.message == "reached the iteration limit"
    assert np.array_equal(seen[-1], result.x)
    capped = lbfgs.minimize(rosenbrock, np.tile([-1.2, 1.0], 5), np.full(10, -5.0), np.full(10, 5.0),
                            maxiter=100, maxfun=10)
    assert capped.nfev <= 10 and capped.message == "reached the evaluation limit"


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_numpys_blas_runs_on_one_thread_while_the_loop_runs(optimizer):
    """OpenBLAS's idle threads spin after each call and take the cores TensorFlow needs (bfloat16
    L-BFGS went from 0.095 s to 0.13 s an evaluation on a 2-core Xeon): the loop holds BLAS to one."""
    import contextlib
    import io

    threadpoolctl = pytest.importorskip("threadpoolctl")
    pytest.importorskip("tensorflow")
    from test_gatys_loop import OnlyTheContract

    from nst import gatys
    from nst.gatys import optimize

    if not threadpoolctl.threadpool_info():
        pytest.skip("no BLAS thread pool that threadpoolctl can see")
    seen = []

    def on_step(step, losses):
        seen.append(max(p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"))

    st = OnlyTheContract(gatys.Config(optimizer=optimizer, content_weight=1.0, print_iterations=1000))
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"), contextlib.redirect_stdout(io.StringIO()):
        optimize.Loop(st).run(3, on_step=on_step)
        after = max(p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas")
    assert seen and set(seen) == {1}
    assert after == 2, "the caller's BLAS threads are given back when the loop ends"
