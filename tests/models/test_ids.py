"""MatrixFactorization's ids, one kind per column: a table of what fit accepts and refuses,
and a table of what every later call (predict, score, recommend, fit's validation) does
with ids of the fit's kind, of another kind, and unseen."""

import re
import warnings
from typing import NamedTuple

import numpy as np
import pytest

pytest.importorskip("sklearn")

from scipy import sparse

from descend.models import MatrixFactorization

R3 = [1.0, 4.0, 5.0]
FAST = dict(n_factors=2, epochs=2, random_state=0)


def fit(users, items, ratings=R3, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # two epochs warn of nothing worth reading here
        return MatrixFactorization(**FAST).fit(users, items, ratings, **kwargs)


def objects(*values):
    """A 1-D object array holding exactly ``values`` (np.array would nest a tuple)."""
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


# fit, accepted: (users, items, the kind of the fitted user ids).
I3 = [5, 5, 6]
FIT_ACCEPTS = {
    "Python ints": ([0, 1, 0], I3, "integer"),
    "NumPy int64": (np.array([0, 1, 0]), np.array(I3), "integer"),
    "NumPy uint8 and int32": (np.array([0, 1, 0], np.uint8), np.array(I3, np.int32), "integer"),
    "NumPy integer scalars in a list": ([np.int64(0), 1, np.int16(0)], I3, "integer"),
    "integral floats": ([0.0, 1.0, 0.0], np.array([5.0, 5.0, 6.0]), "integer"),
    "ints and integral floats": ([0, 1.0, 0], I3, "integer"),
    "str": (["ann", "bob", "ann"], ["x", "x", "y"], "string"),
    "NumPy str": (np.array(["ann", "bob", "ann"]), np.array(["x", "x", "y"]), "string"),
    "np.str_ in an object array": (objects(np.str_("a"), "b", "a"), ["x", "x", "y"], "string"),
    "integer users, string items": ([0, 1, 0], ["x", "x", "y"], "integer"),
}

# fit, refused: (users, items, the error, a regex of its message).
MIX = "mix integers and strings"
FIT_REFUSES = {
    "0 and '0'": ([0, "0", 1], I3, TypeError, rf"fit: user ids \(users\) {MIX}: 0 at position 0 "
                  r"and '0' at position 1; the ids of one column must be of one kind"),
    "'5' and 5 among items": ([0, 1, 0], ["5", 5, 6], TypeError,
                              rf"item ids \(items\) {MIX}: 5 at position 1 and '5' at position 0"),
    "a float among strings": (["a", 1.0, "b"], I3, TypeError, rf"{MIX}: 1\.0 at position 1"),
    "None": ([0, None, 1], I3, ValueError,
             r"user ids \(users\) hold a missing id, None at position 1; drop those ratings"),
    "None among strings": (["a", "b", "c"], ["x", None, "y"], ValueError,
                           r"item ids \(items\) hold a missing id, None"),
    "NaN in a float array": (np.array([0.0, np.nan, 1.0]), I3, ValueError,
                             r"missing id, nan at position 1"),
    "NaN in a list of ints": ([0, 1, np.nan], I3, ValueError, r"missing id, nan at position 2"),
    "infinity": ([0, np.inf, 1], I3, ValueError, r"missing id, inf at position 1 \(NaN or inf"),
    "a fractional float": ([0, 1.5, 1], I3, ValueError,
                           r"user ids \(users\) hold ids that are not integers, 1\.5 at"),
    "bools": ([True, False, True], I3, TypeError, r"hold an id of type bool, True at position 0"),
    "a bool among ints": ([0, 1, True], I3, TypeError, r"id of type bool, True at position 2"),
    "a bool array": (np.array([True, False, True]), I3, TypeError, r"ids, got dtype bool"),
    "a tuple": ([0, 1, 0], objects(5, (1, 2), 6), TypeError,
                r"item ids \(items\) hold an id of type tuple, \(1, 2\) at position 1"),
    "bytes": ([0, 1, 0], [b"x", b"x", b"y"], TypeError, r"id of type bytes"),
    "a bytes array": (np.array([b"a", b"b", b"a"]), I3, TypeError,
                      r"dtype \|S1; decode them: ids\.astype\(str\)"),
    "complex numbers": (np.array([0, 1, 0], complex), I3, TypeError, r"got dtype complex128"),
    "two columns as users": ([[0, 1]] * 3, I3, ValueError,
                             r"user ids \(users\) must be a 1-D array of ids, got shape \(3, 2\)"),
    "integers beyond int64": ([0, 2**70, 1], I3, ValueError, r"hold integers beyond int64"),
}  # fmt: skip


@pytest.mark.parametrize("users, items, kind", list(FIT_ACCEPTS.values()), ids=list(FIT_ACCEPTS))
def test_fit_accepts_ids_of_one_kind_per_column(users, items, kind):
    types = [type(u) for u in users]
    model = fit(users, items)
    assert ("integer" if model.user_ids_.dtype.kind in "iu" else "string") == kind
    assert [type(u) for u in users] == types  # fit leaves its inputs alone
    # The fit of the same ids written plainly.
    plain = fit([str(u) if kind == "string" else int(u) for u in users], list(items))
    np.testing.assert_array_equal(model.user_factors_, plain.user_factors_)


@pytest.mark.parametrize(
    "users, items, error, match", list(FIT_REFUSES.values()), ids=list(FIT_REFUSES)
)
def test_fit_refuses_other_ids_in_words(users, items, error, match):
    with pytest.raises(error, match=match):
        fit(users, items)


def test_the_X_form_and_a_data_frame_keep_each_columns_kind():
    X = [[0, "x"], [1, "x"], [0, "y"]]
    model = fit(X, R3, None)
    assert model.user_ids_.tolist() == [0, 1] and model.item_ids_.tolist() == ["x", "y"]
    with pytest.raises(TypeError, match=r"fit: item ids \(X\[:, 1\]\) mix integers and strings"):
        fit([[0, "x"], [1, 5], [0, "y"]], R3, None)
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"user": [0, 1, 0], "item": ["x", "x", "y"]})
    np.testing.assert_array_equal(fit(frame, R3, None).user_factors_, model.user_factors_)


# Later calls, on a model fitted with integer ids 0, 1 x 5, 6 or with string ids "ann",
# "bob" x "x", "y": (fitted kind, the call, what comes of it): accepted (unseen ids get
# the documented fallback, checked below); ids of the other kind, refused with a message
# naming the call, the column and both kinds; or another error and a regex of its message.


def call(name, *args):
    """The call ``name`` with ``args`` on a fitted model; "validation" refits with ``args``
    held out, and "fit" fits a new model (the fixture's stay as they are)."""

    def run(model):
        if name == "validation":
            held_out = args[0] if len(args) == 1 else args
            return fit(*FITTED[kind_of(model)], validation=held_out)
        if name == "fit":
            return MatrixFactorization(**FAST).fit(*args)
        return getattr(model, name)(*args)

    run.name = name
    return run


class Wrong(NamedTuple):
    """Ids of the other kind than the fit's: which column, and the first one given."""

    what: str
    example: str


FITTED = {"integer": ([0, 1, 0], [5, 5, 6]), "string": (["ann", "bob", "ann"], ["x", "x", "y"])}
ACCEPTED = "accepted"
USERS, ITEMS = "user ids", "item ids"


def kind_of(model):
    return "integer" if model.user_ids_.dtype.kind in "iu" else "string"


SPARSE_R3 = sparse.coo_array(([1.0, 4.0, 5.0], ([0, 1, 0], [5, 5, 6])))
LATER = {
    "predict, seen ints": ("integer", call("predict", [0, 1], [5, 6]), ACCEPTED),
    "predict, unseen ints": ("integer", call("predict", [7, 0, 7], [5, 9, 9]), ACCEPTED),
    "predict, integral floats": ("integer", call("predict", [0.0, 7.0], [5.0, 5.0]), ACCEPTED),
    "predict, int32": ("integer", call("predict", np.array([0, 1], np.int32), [5, 6]), ACCEPTED),
    "predict, nothing": ("integer", call("predict", [], []), ACCEPTED),
    "predict, strings on ints": ("integer", call("predict", ["0"], [5]), Wrong(USERS, "'0'")),
    "predict, string items": ("integer", call("predict", [0], ["5"]), Wrong(ITEMS, "'5'")),
    "predict, ints on strings": ("string", call("predict", [0], ["x"]), Wrong(USERS, "0")),
    "predict, X on strings": ("string", call("predict", [["ann", 5]]), Wrong(ITEMS, "5")),
    "predict, 0 and '0'": ("integer", call("predict", [0, "0"], [5, 5]),
                           (TypeError, r"predict: user ids \(users\) mix integers and strings")),
    "predict, None": ("string", call("predict", ["ann"], [None]),
                      (ValueError, r"predict: item ids \(items\) hold a missing id")),
    "predict, unseen strings": ("string", call("predict", ["x", "ann"], ["x", "z"]), ACCEPTED),
    "score, ints": ("integer", call("score", [0, 1], [5, 6], [1.0, 2.0]), ACCEPTED),
    "score, strings on ints": ("integer", call("score", ["a"], [5], [1.0]), Wrong(USERS, "'a'")),
    "score, sparse on strings": ("string", call("score", SPARSE_R3), Wrong(USERS, "0")),
    "recommend, seen int": ("integer", call("recommend", 0), ACCEPTED),
    "recommend, unseen int": ("integer", call("recommend", 7), ACCEPTED),
    "recommend, string on ints": ("integer", call("recommend", "0"), Wrong(USERS, "'0'")),
    "recommend, int on strings": ("string", call("recommend", 0), Wrong(USERS, "0")),
    "recommend, None": ("string", call("recommend", None),
                        (ValueError, r"recommend: user id \(user\) hold a missing id")),
    "validation, ints": ("integer", call("validation", [0, 7], [5, 5], [1.0, 2.0]), ACCEPTED),
    "validation, strings on ints": ("integer", call("validation", ["0"], [5], [1.0]),
                                    Wrong(USERS, "'0'")),
    "validation, sparse on strings": ("string", call("validation", SPARSE_R3), Wrong(USERS, "0")),
    "fit, sparse ratings": ("integer", call("fit", SPARSE_R3), ACCEPTED),
}  # fmt: skip


@pytest.fixture(scope="module")
def models():
    return {kind: fit(*ids) for kind, ids in FITTED.items()}


@pytest.mark.parametrize("kind, run, expected", list(LATER.values()), ids=list(LATER))
def test_later_calls_take_ids_of_the_fits_kind(models, kind, run, expected):
    model = models[kind]
    if isinstance(expected, Wrong):
        other = "string" if kind == "integer" else "integer"
        example = re.escape(expected.example)
        message = (
            rf"{run.name}: got {other} {expected.what} \(e\.g\. {example}\), but the model was "
            rf"fitted with {kind} {expected.what} \(e\.g\. .*\); pass {kind}s"
        )
        expected = (TypeError, message)
    if expected == ACCEPTED:
        assert run(model) is not None
        return
    error, match = expected
    with pytest.raises(error, match=match):
        run(model)


def test_unseen_ids_keep_their_documented_fallback(models):
    model = models["integer"]
    mu, b_u, b_i = model.global_mean_, model.user_bias_, model.item_bias_
    got = model.predict([7, 0, 7], [5, 9, 9])  # unknown user, unknown item, both
    np.testing.assert_allclose(got, np.clip([mu + b_i[0], mu + b_u[0], mu], *model.rating_scale_))
    highest = model.item_ids_[np.argsort(-b_i, kind="stable")]
    np.testing.assert_array_equal(model.recommend(7), highest)
    named = models["string"]
    assert named.predict(["nobody"], ["nothing"])[0] == pytest.approx(named.global_mean_)
    np.testing.assert_array_equal(
        model.predict([0.0, 7.0], [5.0, 5.0]), model.predict([0, 7], [5, 5])
    )


def test_every_public_method_that_takes_ids_is_in_the_table():
    public = {
        name
        for name, member in vars(MatrixFactorization).items()
        if callable(member) and not name.startswith("_")
    }
    assert public == {"fit", "predict", "score", "recommend"}
    assert {run.name for _, run, _ in LATER.values()} == public | {"validation"}
