"""descend.datasets.make_ratings: shape, scale, uniqueness, long tails, determinism, and
the noise floor against a Monte Carlo estimate of E[r | u, i]."""

import math

import numpy as np
import pytest
from descend.datasets import Ratings, _expected_rating, make_ratings, rmse

SMALL = dict(n_users=600, n_items=400, n_ratings=40_000)


@pytest.fixture(scope="module")
def small():
    return make_ratings(**SMALL, seed=0)


def test_shape_and_scale(small):
    assert isinstance(small, Ratings)
    assert len(small) == 40_000 and small.shape == (600, 400)
    for name in ("users", "items", "ratings", "expected"):
        assert getattr(small, name).shape == (40_000,)
    assert small.users.dtype == np.int64 and small.items.dtype == np.int64
    assert small.users.min() >= 0 and small.users.max() < 600
    assert small.items.min() >= 0 and small.items.max() < 400
    np.testing.assert_array_equal(np.unique(small.ratings), [1.0, 2.0, 3.0, 4.0, 5.0])
    assert np.all((small.expected > 1) & (small.expected < 5))


def test_pairs_are_distinct_and_sorted(small):
    pairs = small.users * small.shape[1] + small.items
    assert len(np.unique(pairs)) == len(small)
    assert np.all(np.diff(pairs) > 0)  # by user, then item


def test_activity_is_long_tailed_with_a_minimum_per_user(small):
    per_user = np.bincount(small.users, minlength=600)
    per_item = np.bincount(small.items, minlength=400)
    assert per_user.min() >= 20
    for counts in (per_user, per_item):
        top = np.sort(counts)[::-1][: len(counts) // 10]
        assert top.sum() / counts.sum() > 0.25  # the top tenth holds far more than a tenth
        assert counts.max() > 4 * np.median(counts)


def test_the_same_seed_gives_the_same_ratings():
    a, b = make_ratings(**SMALL, seed=3), make_ratings(**SMALL, seed=3)
    c = make_ratings(**SMALL, seed=4)
    for name in ("users", "items", "ratings", "expected"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.ratings, c.ratings)


def test_expected_is_the_mean_of_rounded_clipped_noisy_ratings():
    # The closed form against Monte Carlo: many noisy ratings at each latent score.
    latent = np.linspace(-1.0, 7.0, 33)
    rng = np.random.default_rng(0)
    draws = np.clip(np.rint(latent + rng.normal(0.0, 0.5, (100_000, 33))), 1, 5)
    np.testing.assert_allclose(_expected_rating(latent, 0.5), draws.mean(axis=0), atol=0.01)


def test_the_floor_is_about_0_55_at_the_default_noise(small):
    assert small.floor == pytest.approx(0.55, abs=0.02)
    assert small.floor == rmse(small.expected, small.ratings)


def test_split_is_a_seeded_partition(small):
    train, test = small.split(0.2, seed=0)
    assert (len(train), len(test)) == (32_000, 8_000)
    both = np.concatenate([train.users * 400 + train.items, test.users * 400 + test.items])
    np.testing.assert_array_equal(np.sort(both), small.users * 400 + small.items)
    again, _ = small.split(0.2, seed=0)
    np.testing.assert_array_equal(train.ratings, again.ratings)
    assert train.shape == test.shape == small.shape


def test_rmse():
    assert rmse([1.0, 2.0], [1.0, 4.0]) == math.sqrt(2.0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_users=0), "n_users must be an integer >= 1"),
        (dict(n_users=10, n_items=10, n_ratings=101, min_user_ratings=1), "at most n_users"),
        (dict(n_users=10, n_items=50, n_ratings=100, min_user_ratings=20), "min_user_ratings=20"),
        (dict(noise=0.0), "noise must be a finite number > 0"),
        (dict(interaction=-1.0), "interaction must be a finite number >= 0"),
        (dict(n_factors=0), "n_factors must be an integer >= 1"),
    ],
)
def test_bad_sizes_are_refused_in_words(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_ratings(**kwargs)


def test_bad_split_is_refused(small):
    with pytest.raises(ValueError, match="test_size must be in"):
        small.split(1.5)


@pytest.mark.parametrize(("predicted", "actual"), [([], []), ([1.0, 2.0], [1.0])])
def test_rmse_refuses_empty_or_mismatched_arrays(predicted, actual):
    with pytest.raises(ValueError, match="rmse needs as many predictions as ratings"):
        rmse(predicted, actual)


def test_ratings_unpack_as_users_items_ratings():
    data = make_ratings(50, 40, 2000, min_user_ratings=5, seed=0)
    users, items, ratings = data
    assert users is data.users and items is data.items and ratings is data.ratings
