"""The playground's JSON API through Starlette's test client: every number is the one
``dd.minimize`` returns for the same arguments, bad requests get 400 with a message naming
the field, and nothing answers 500."""

from __future__ import annotations

import json
import math
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():  # Starlette would rather drive its client with httpx2
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

import descend as dd
from descend.playground import api
from descend.playground.server import create_app

ROSENBROCK = "(1-x)**2 + 100*(y-x**2)**2"
START = [-1.2, 1.0]


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app())


def as_json(values: Any) -> Any:
    """What JSON carries for an array: floats, with None where they are not finite."""
    if isinstance(values, np.ndarray):
        values = values.tolist()
    if isinstance(values, list):
        return [as_json(v) for v in values]
    return values if math.isfinite(values) else None


def expected(objective: Any, spec: dict[str, Any], max_iter: int, explain: bool) -> dd.Result:
    settings = spec.get("hyperparameters", {})
    return dd.minimize(objective, START, spec["method"], lr=spec.get("lr"), max_iter=max_iter,
                       explain=explain, record_x=True, **settings)  # fmt: skip


RUNS = [
    {"method": "gd", "lr": 0.001},
    {"method": "adam", "lr": 0.05, "hyperparameters": {"beta1": 0.8}},
    {"method": "momentum", "lr": 0.01},  # diverges: diagnosed, with a learning rate to try
    {"method": "lbfgs"},  # no lr: the method's own
    {"method": "armijo", "hyperparameters": {"max_backtracks": 20, "clip_norm": 100}},
]


def test_every_run_is_minimize_to_the_last_bit(client):
    body = {"objective": ROSENBROCK, "x0": START, "runs": RUNS, "max_iter": 300, "explain": True}
    response = client.post("/api/run", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()  # parsed from the text sent: floats survive JSON exactly
    assert answer["variables"] == ["x", "y"]
    assert len(answer["runs"]) == len(RUNS)
    for spec, got in zip(RUNS, answer["runs"], strict=True):
        res = expected(ROSENBROCK, spec, 300, explain=True)
        assert got["method"] == res.method
        assert got["status"] == str(res.status) and got["message"] == res.message
        assert got["nit"] == res.nit
        assert got["x"] == as_json(res.history.x)
        assert got["f"] == as_json(res.history.f)
        explanation = res.history.explanation
        assert got["parts"] == {name: as_json(explanation[name]) for name in explanation}
    statuses = [run["status"] for run in answer["runs"]]
    assert statuses == ["max_iter", "max_iter", "diverged", "converged", "max_iter"]


def test_a_diverged_run_carries_its_diagnosis_and_the_lr_it_tried(client):
    spec = {"method": "gd", "lr": 0.01}
    body = {"objective": ROSENBROCK, "x0": START, "runs": [spec], "max_iter": 200}
    got = client.post("/api/run", json=body).json()["runs"][0]
    assert "parts" not in got  # explain defaults to false
    res = expected(ROSENBROCK, spec, 200, explain=False)
    formula = dd.parse(ROSENBROCK)
    diagnosis = dd.diagnose(res, formula, formula.grad)
    assert got["status"] == "diverged" and got["x"][-1] == res.x.tolist()
    assert got["diagnosis"] == {"kind": "lr_too_large", "text": str(diagnosis),
                                "lr": diagnosis.main.lr}  # fmt: skip
    assert 0 < got["diagnosis"]["lr"] < 0.01


def test_a_test_function_by_name_runs_as_the_function_itself(client):
    spec = {"method": "nesterov", "lr": 0.002}
    body = {"objective": "rosenbrock", "x0": START, "runs": [spec], "max_iter": 50}
    answer = client.post("/api/run", json=body).json()
    res = expected(dd.functions.rosenbrock, spec, 50, explain=False)
    assert answer["variables"] == ["x0", "x1"]
    assert answer["runs"][0]["x"] == res.history.x.tolist()


def test_runs_take_any_dimension(client):
    body = {"objective": "x**2 + 2*y**2 + 3*z**2", "x0": [1, 1, 1],
            "runs": [{"method": "gd", "lr": 0.1}], "max_iter": 5}  # fmt: skip
    answer = client.post("/api/run", json=body).json()
    assert answer["variables"] == ["x", "y", "z"]
    assert np.shape(answer["runs"][0]["x"]) == (6, 3)


def test_a_run_past_the_time_limit_ends_with_that_status():
    # 1 ms: less than 100,000 updates take compiled too (engine="auto" may take that).
    quick = TestClient(create_app(time_limit=0.001))
    body = {"objective": ROSENBROCK, "x0": START, "runs": [{"method": "gd", "lr": 1e-5}],
            "max_iter": 100_000}  # fmt: skip
    run = quick.post("/api/run", json=body).json()["runs"][0]
    assert run["status"] == "time_limit" and 0 < run["nit"] < 100_000
    assert "diagnosis" not in run


def test_runs_the_compiled_engine_takes_go_in_one_call_with_the_same_answers(
    client, monkeypatch, tmp_path
):
    pytest.importorskip("numba")
    from descend.engines import _compiled_run

    monkeypatch.setenv("DESCEND_CACHE_DIR", str(tmp_path))
    # Compiled in this process once: engine="auto" expects it to pay from then on.
    dd.minimize(ROSENBROCK, START, "momentum", lr=1e-3, max_iter=10, engine="numba")
    sizes: list[int] = []
    together = _compiled_run.together
    monkeypatch.setattr(_compiled_run, "together", lambda starts: sizes.append(len(starts))
                        or together(starts))  # fmt: skip
    specs = [{"method": "momentum", "lr": lr, "hyperparameters": {"momentum": 0.5}}
             for lr in (1e-4, 5e-4, 1e-3)]  # fmt: skip
    body = {"objective": ROSENBROCK, "x0": START, "runs": specs, "max_iter": 2000}
    answer = client.post("/api/run", json=body).json()
    assert sizes == [3]
    for spec, got in zip(specs, answer["runs"], strict=True):
        res = expected(ROSENBROCK, spec, 2000, explain=False)
        assert (got["status"], got["message"], got["nit"]) == (str(res.status), res.message,
                                                               res.nit)  # fmt: skip
        assert got["x"] == as_json(res.history.x) and got["f"] == as_json(res.history.f)


def test_concurrent_requests_each_get_their_own_answer(client):
    lrs = [0.0001 * (k + 1) for k in range(8)]
    barrier = threading.Barrier(len(lrs))

    def one(lr: float) -> list[list[float]]:
        body = {"objective": ROSENBROCK, "x0": START, "runs": [{"method": "gd", "lr": lr}],
                "max_iter": 100}  # fmt: skip
        barrier.wait()
        return client.post("/api/run", json=body).json()["runs"][0]["x"]

    with ThreadPoolExecutor(len(lrs)) as pool:
        paths = list(pool.map(one, lrs))
    for lr, path in zip(lrs, paths, strict=True):
        assert (
            path == expected(ROSENBROCK, {"method": "gd", "lr": lr}, 100, False).history.x.tolist()
        )


def test_contours_are_the_objective_on_the_grid_with_the_plots_levels(client):
    body = {"objective": ROSENBROCK, "bounds": [[-2, 2], [-1, 3]], "n": 41}
    answer = client.post("/api/contours", json=body).json()
    xs, ys = np.linspace(-2, 2, 41), np.linspace(-1, 3, 41)
    assert answer["variables"] == ["x", "y"]
    assert answer["xs"] == xs.tolist() and answer["ys"] == ys.tolist()
    f = dd.parse(ROSENBROCK)(np.stack(np.meshgrid(xs, ys)))
    assert np.array(answer["f"]) == pytest.approx(f, rel=5e-7)  # 7 digits; row i at y = ys[i]
    assert answer["f"][3][5] == pytest.approx(dd.parse(ROSENBROCK)([xs[5], ys[3]]), rel=5e-7)
    levels = answer["levels"]
    assert levels == sorted(levels) and len(levels) > 10
    assert levels[0] == pytest.approx(f.min()) and levels[-1] == pytest.approx(f.max())


def test_contours_of_a_test_function_and_where_f_is_undefined(client):
    zoo = client.post("/api/contours", json={"objective": "himmelblau", "bounds": [[-5, 5]] * 2})
    assert np.shape(zoo.json()["f"]) == (150, 150)  # the plots' grid when n is not given
    body = {"objective": "log(x) + y**2", "bounds": [[-1, 1], [-1, 1]], "n": 5}
    answer = client.post("/api/contours", json=body).json()
    assert answer["f"][0][:3] == [None, None, None]  # x <= 0
    assert all(level is not None for level in answer["levels"])


def test_functions_lists_the_zoo_with_formula_minima_and_window(client):
    listing = client.get("/api/functions").json()
    assert [entry["name"] for entry in listing] == list(dd.functions.ZOO)
    for entry in listing:
        function = dd.functions.ZOO[entry["name"]]
        assert entry["formula"] == function.formula
        assert entry["minima"] == [m.tolist() for m in function.minima]
        assert entry["window"] == [list(side) for side in function.bounds]
        assert entry["x0"] == function.x0.tolist() and entry["fmin"] == function.fmin


def test_methods_lists_the_registry_with_hyperparameters_and_defaults(client):
    listing = {entry["name"]: entry for entry in client.get("/api/methods").json()}
    assert list(listing) == list(dd.OPTIMIZERS)
    adam = {h["name"]: h for h in listing["adam"]["hyperparameters"]}
    assert listing["adam"]["lr"] == 0.001 and listing["adam"]["when"] == dd.Adam.when
    assert adam["beta1"] == {"name": "beta1", "default": 0.9, "kind": "float"}
    assert adam["clip_norm"] == {"name": "clip_norm", "default": None, "kind": "optional"}
    lbfgs = {h["name"]: h for h in listing["lbfgs"]["hyperparameters"]}
    assert lbfgs["memory"] == {"name": "memory", "default": 10, "kind": "int"}
    prodigy = {h["name"]: h for h in listing["prodigy"]["hyperparameters"]}
    assert prodigy["decouple"]["kind"] == "bool" and prodigy["growth_rate"]["default"] is None
    assert "project" not in {h["name"] for h in listing["bb"]["hyperparameters"]}


def run_body(**changes: Any) -> dict[str, Any]:
    body = {"objective": "x**2 + y**2", "x0": [1.0, 2.0], "runs": [{"method": "adam"}],
            "max_iter": 10}  # fmt: skip
    body.update(changes)
    return body


def one_run(**run: Any) -> dict[str, Any]:
    return run_body(runs=[{"method": "adam", **run}])


CONTOURS = {"objective": "x**2 + y**2", "bounds": [[-1, 1], [-1, 1]], "n": 10}
JSON = {"content-type": "application/json"}
# (why, endpoint, body: a JSON value, or bytes sent as they are, what the error says)
BAD_REQUESTS = [
    ("unparsable JSON", "run", b'{"objective": ', "the request body is not JSON: Expecting"),
    ("a NaN in JSON", "run", b'{"x0": [NaN]}', "NaN is not a JSON number"),
    ("not UTF-8", "run", b'{"objective": "\xff"}', "not UTF-8"),
    ("nested too deeply", "run", b"[" * 60_000, "nested too deeply"),
    ("not an object", "run", [1, 2], "the request must be a JSON object, got [1, 2]"),
    ("an unknown field", "run", run_body(maxiter=5), "'maxiter'; did you mean 'max_iter'?"),
    ("a missing field", "run", {"objective": "x", "runs": []}, "the request needs the field 'x0'"),
    ("a hostile formula", "run", run_body(objective="__import__('os')"), "objective: formula may"),
    ("an attribute", "run", run_body(objective="x.__class__ + y"), "may not use attribute access"),
    ("a malformed formula", "run", run_body(objective="x +* y"), "syntax error at position 4"),
    ("an empty formula", "run", run_body(objective="  "), "objective must be a non-empty string"),
    ("an unknown method", "run", run_body(runs=[{"method": "adamm"}]), "runs[0]: method must be"),
    ("no method", "run", run_body(runs=[{"lr": 0.1}]), "runs[0] needs the field 'method'"),
    ("an unknown hyperparameter", "run", one_run(hyperparameters={"betta1": 0.9}),
     "runs[0]: 'betta1' is not a hyperparameter of Adam"),
    ("out of range", "run", one_run(hyperparameters={"beta1": 1.5}), "runs[0]: beta1 must be in"),
    ("a string", "run", one_run(hyperparameters={"beta1": "0.9"}),
     "runs[0].hyperparameters.beta1 must be a number"),
    ("a projection", "run", one_run(hyperparameters={"project": None}), "project cannot be set"),
    ("lr twice", "run", one_run(hyperparameters={"lr": 0.1}), "hyperparameters.lr cannot be set"),
    ("a negative lr", "run", one_run(lr=-0.1), "runs[0]: lr must be a finite number > 0"),
    ("an lr as a string", "run", one_run(lr="fast"), 'runs[0].lr must be a number, got "fast"'),
    ("a non-finite x0", "run", b'{"objective": "x", "x0": [1e999], "runs": []}', "x0[0] must be"),
    ("x0 of the wrong size", "run", run_body(x0=[1, 2, 3]), "x0 has 3 numbers, but the objec"),
    ("x0 for a test function", "run", run_body(objective="himmelblau", x0=[1]),
     "x0 has 1 number, but himmelblau takes 2"),
    ("x0 as text", "run", run_body(x0="1,2"), 'x0 must be a non-empty array of numbers, got "1'),
    ("x0 with a boolean", "run", run_body(x0=[1, True]), "x0[1] must be a number, got true"),
    ("more than 8 runs", "run", run_body(runs=[{"method": "gd"}] * 9), "at most 8 runs, got 9"),
    ("no runs", "run", run_body(runs=[]), "runs must be a non-empty array of runs"),
    ("max_iter too large", "run", run_body(max_iter=100_001), "max_iter must be a whole number"),
    ("max_iter not whole", "run", run_body(max_iter=10.5), "from 1 to 100000, got 10.5"),
    ("explain not a flag", "run", run_body(explain="yes"), "explain must be true or false, got"),
    ("n too large", "contours", {**CONTOURS, "n": 401}, "n must be a whole number from 2 to 400"),
    ("malformed bounds", "contours", {**CONTOURS, "bounds": [[0, 1]]}, "bounds must be [[xmin"),
    ("reversed bounds", "contours", {**CONTOURS, "bounds": [[1, 0], [0, 1]]}, "min < max"),
    ("infinite width", "contours", {**CONTOURS, "bounds": [[-1e308, 1e308], [0, 1]]}, "finite"),
    ("one variable", "contours", {**CONTOURS, "objective": "x**2"}, "2 variables; this one has 1"),
    ("three variables", "contours", {**CONTOURS, "objective": "x+y+z"}, "need an objective of 2"),
    ("a bad formula", "contours", {**CONTOURS, "objective": "x ** ** y"}, "objective: formula"),
    ("a body over 64 KiB", "run", run_body(objective="x" * 70_000), "larger than the 65536 bytes"),
]  # fmt: skip


@pytest.mark.parametrize(("why", "endpoint", "body", "message"), BAD_REQUESTS,
                         ids=[case[0] for case in BAD_REQUESTS])  # fmt: skip
def test_a_bad_request_gets_400_and_a_message_naming_the_field(
    client, why, endpoint, body, message
):
    path = f"/api/{endpoint}"
    if isinstance(body, bytes):
        response = client.post(path, content=body, headers=JSON)
    else:
        response = client.post(path, json=body)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert set(answer) <= {"error", "column", "variables"}
    assert message in answer["error"], answer["error"]
    assert "Traceback" not in response.text


def test_a_formula_error_says_where_and_a_wrong_size_which_variables(client):
    answer = client.post("/api/run", json=run_body(objective="x +* y")).json()
    assert answer["column"] == 4  # the '*' that cannot follow '+', counted from 1
    answer = client.post("/api/run", json=run_body(objective="x + y + z")).json()
    assert answer["variables"] == ["x", "y", "z"]


def test_a_streamed_body_past_the_limit_is_refused_as_it_arrives(client):
    chunks = iter([b'{"objective": "' + b"x" * 40_000, b"x" * 40_000 + b'"}'])  # no Content-Length
    response = client.post("/api/run", content=chunks, headers=JSON)
    assert response.status_code == 400 and "larger than the 65536 bytes" in response.json()["error"]


def test_the_body_must_be_sent_as_json(client):
    response = client.post(
        "/api/run", content=json.dumps(run_body()), headers={"content-type": "text/plain"}
    )
    assert (
        response.status_code == 400 and "Content-Type: application/json" in response.json()["error"]
    )


def test_unknown_paths_and_methods_answer_in_json(client):
    assert client.get("/api/nothing").json() == {"error": "there is nothing at /api/nothing"}
    assert client.get("/api/run").status_code == 405


def test_a_bug_answers_500_without_a_traceback(monkeypatch):
    def broken() -> None:
        raise RuntimeError("a bug, with secrets in its message")

    monkeypatch.setattr(api, "functions", broken)
    response = TestClient(create_app(), raise_server_exceptions=False).get("/api/functions")
    assert response.status_code == 500
    assert response.json() == {"error": "internal error: RuntimeError"}


def test_the_time_limit_must_be_positive():
    with pytest.raises(ValueError, match="time_limit must be a finite number > 0"):
        create_app(time_limit=0)


scalars = st.none() | st.booleans() | st.integers(-5, 200_000) | st.text(max_size=8)
json_values = st.recursive(
    scalars | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)
objectives = st.sampled_from(["x**2 + y**2", "booth", "x", "sin(x)*y", "1/x + y"])
runs = st.fixed_dictionaries(
    {"method": st.sampled_from(list(dd.OPTIMIZERS)) | json_values},
    optional={"lr": json_values, "hyperparameters": json_values},
)
run_fields = st.fixed_dictionaries(
    {},
    optional={
        "objective": objectives | json_values,
        "x0": st.lists(st.floats(-10, 10) | json_values, max_size=3) | json_values,
        "runs": st.lists(runs, max_size=3) | json_values,
        "max_iter": st.integers(-1, 300) | json_values,
        "explain": json_values,
    },
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=run_fields)
def test_no_request_body_gets_a_500(client, body):
    response = client.post("/api/run", json=body)
    assert response.status_code in (200, 400), response.text
    assert "error" in response.json() or "runs" in response.json()
