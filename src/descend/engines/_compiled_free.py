"""The learning-rate-free methods in the compiled loop: DoG, Prodigy
(:mod:`descend.core.optimizers.free`) and schedule-free SGD and AdamW
(:mod:`descend.core.optimizers.schedule_free`) for Numba, operation for operation (the
same products and sums, grouped as NumPy groups them), so that a compiled run's iterates
and its history's step sizes are the Python engine's, bit for bit. The schedule-free
methods answer with their average, as :class:`descend.core.loop.Run` does (see
:data:`CONFIRM`).

Each update is written into :data:`~descend.engines._compiled_source.LOOP`, where x, the
(clipped) gradient ``gu``, ``x_new``, ``diff`` and the rate ``lr`` are the loop's; the
rules' scalars (DoG's rbar and G, Prodigy's d, d_max and r, the schedule-free gamma_max
and sum of weights) are locals of the loop, set up before it, and their vectors are rows
of ``work``: x0 and ``gw``, the gradient with the L2 term of the weight decay when there
is one; z and the average. ``max`` and ``min`` are written as the comparisons Python's
make (the first argument kept on a tie or a NaN). Nothing here imports Numba; the
generated module does.
"""

from __future__ import annotations

__all__ = ["ANSWER", "CONFIRM", "FUNCTIONS", "SETUP", "UPDATES"]

# gw: g with the weight decay's L2 term where the rule adds one, else g.
_DECAYED = """\
        for i in range(n):
            gw[i] = gu[i] + weight_decay * x[i] if {decayed} else gu[i]
"""
# DoG.update: x's distance from the start, rbar and G, then the step -eta g.
_DOG = (
    """\
        for i in range(n):
            diff[i] = x[i] - x_start[i]
        travelled = math.sqrt(dot(diff, diff))  # vector_norm(x - x0)
        if travelled > rbar:  # max(rbar, travelled), as Python's max picks
            rbar = travelled
"""
    + _DECAYED.format(decayed="weight_decay")
    + """\
        G = G + dot(gw, gw)
        eta = lr * rbar / math.sqrt(G)
        for i in range(n):
            x_new[i] = x[i] + -eta * gw[i]
        step_lr = eta
"""
)
# Prodigy.update, its d_k, d_max and r the loop's d_est, d_max and r_sum; diff holds
# x0 - x, then |s| for its sum (in NumPy's pairwise order).
_PRODIGY = (
    """\
        t = nit + 1
        bias = 1.0
        if use_bias_correction:
            bias = power(1 - power(beta2, t), 0.5) / (1 - power(beta1, t))
        dlr = d_est * lr * bias  # d_k * gamma_k
"""
    + _DECAYED.format(decayed="weight_decay and not decouple")
    + """\
        for i in range(n):
            diff[i] = x_start[i] - x[i]
        r_new = beta3 * r_sum + (d_est / d0) * dlr * dot(gw, diff)
        c_m, c_v = d_est * (1 - beta1), d_est * d_est * (1 - beta2)
        c_s = (d_est / d0) * (d_est if safeguard_warmup else dlr)
        for i in range(n):
            m[i] = beta1 * m[i] + c_m * gw[i]
            v[i] = beta2 * v[i] + c_v * (gw[i] * gw[i])
            s[i] = beta3 * s[i] + c_s * gw[i]
            diff[i] = abs(s[i])
        norm_s = pairwise_sum(diff, 0, n)
        step_lr = dlr
        if norm_s == 0:  # no gradient yet: no estimate and no step
            for i in range(n):
                x_new[i] = x[i] + 0.0
        else:
            r_sum = r_new
            d_hat = d_coef * r_sum / norm_s
            if d_est == d0 and d_hat > d_est:
                d_est = d_hat
            if d_hat > d_max:
                d_max = d_hat
            grown = d_est * growth_rate
            d_est = grown if grown < d_max else d_max  # min(d_max, grown), as Python's
            eps_d, c_g, c_w = d_est * eps, -dlr * d_est, weight_decay * dlr
            for i in range(n):
                if beta1 > 0:
                    step = -dlr * m[i] / (math.sqrt(v[i]) + eps_d)
                else:
                    step = c_g * gw[i] / (math.sqrt(v[i]) + eps_d)
                if weight_decay and decouple:
                    step = step - c_w * x[i]
                x_new[i] = x[i] + step
"""
)
# _ScheduleFree.update: gamma_t (its warm-up), the averaging weight c, then z, the average
# x_avg and the next y, the loop's point; the step y_next - y is added to y, as Run adds
# a step. {beta} is the interpolation weight, {direction} writes u_t (from gu and x, y).
_SCHEDULE_FREE = """\
        t = nit
        gamma = lr * ((t + 1) / warmup_steps if t < warmup_steps else 1.0)
        lr_max = lr_max if lr_max > gamma else gamma  # max(gamma, lr_max), as Python's
        if lr_max != lr_max_at:  # pow only when gamma_max moves (the same inputs, the same value)
            lr_max_at, lr_power = lr_max, power(lr_max, weight_lr_power)
        weight = (1.0 if r == 0 else power(t + 1, r)) * lr_power  # pow(x, 0) is 1.0
        weight_sum = weight_sum + weight
        c = weight / weight_sum if weight_sum else 0.0
{before}\
        for i in range(n):
{direction}\
            u = u + weight_decay * x[i] if weight_decay else u
            z[i] = z[i] - gamma * u
            x_avg[i] = (1 - c) * x_avg[i] + c * z[i]
            y_next = (1 - {beta}) * z[i] + {beta} * x_avg[i]
            x_new[i] = x[i] + (y_next - x[i])
        step_lr = gamma
"""
_SGD = _SCHEDULE_FREE.format(before="", direction="            u = gu[i]\n", beta="mu")
_ADAMW = _SCHEDULE_FREE.format(
    before="""\
        if p2 >= SETTLED:  # beta2**(t + 1), as Adam's (1 - p2 is 1.0 from there on)
            p2 = power(beta2, t + 1)
        corrected = 1 - p2
""",
    direction="""\
            v[i] = beta2 * v[i] + (1 - beta2) * (gu[i] * gu[i])
            u = gu[i] / (math.sqrt(v[i] / corrected) + eps)
""",
    beta="beta1",
)
# method -> (its state vectors, its update), as _compiled_source.UPDATES holds them.
UPDATES = {
    "dog": (("x_start", "gw"), _DOG),
    "prodigy": (("x_start", "gw", "m", "v", "s"), _PRODIGY),
    "schedulefree_sgd": (("z", "x_avg", "g_avg"), _SGD),
    "schedulefree_adamw": (("z", "x_avg", "g_avg", "v"), _ADAMW),
}
# The schedule-free methods answer with their average x_avg (a row of work, read by
# _compiled_run), and Run confirms there an ending by convergence at y: f and the gradient
# at x_avg go through the same rules, and the run goes on unless they end it too (the
# loop's f and grad_norm then are the average's, for the ending's message).
ANSWER = {"schedulefree_sgd": "x_avg", "schedulefree_adamw": "x_avg"}
_CONFIRM = """\
            if ended and f <= f_limit and not (grad_norm > gtol and f_change >= ftol
                                               and step_norm > xtol):
                f_avg = evaluate(x_avg, g_avg, params)
                evaluations += 1
                grad_avg = norm(g_avg)
                ended = not (f_avg <= f_limit and grad_avg > gtol and f_change >= ftol
                             and step_norm > xtol and nit < max_iter) or (
                    nit % CLOCK_EVERY == 0 and now() - started >= time_limit)
                if ended:
                    f, grad_norm = f_avg, grad_avg
"""
CONFIRM = dict.fromkeys(ANSWER, _CONFIRM)

# What each sets up before the loop: x0, and its scalars as init makes them.
SETUP = {
    "dog": """\
    for i in range(n):  # DoG.init: x0, then the first rbar and G
        x_start[i] = x[i]
    rbar, G = r_epsilon * (1 + math.sqrt(dot(x_start, x_start))), eps
""",
    "prodigy": """\
    for i in range(n):  # Prodigy.init
        x_start[i] = x[i]
    if beta3 != beta3:  # None (NaN in h): sqrt(beta2)
        beta3 = math.sqrt(beta2)
    d_est, d_max, r_sum = d0, d0, 0.0
""",
}
SETUP["schedulefree_sgd"] = SETUP["schedulefree_adamw"] = """\
    for i in range(n):  # _ScheduleFree.init: z and x_avg from x0
        z[i], x_avg[i] = x[i], x[i]
    lr_max, weight_sum = 0.0, 0.0
    lr_max_at, lr_power, p2 = -1.0, 0.0, 1.0  # the last pow of gamma_max; beta2**t
"""
# The functions an update calls, written into the module before the loop.
FUNCTIONS = {"prodigy": "from descend.engines._compiled_kernels import pairwise_sum\n"}
