"""bench_protocol's alternative splits: the refit moves validation into train, late validation carves the last
quarter of each user's train period, and test is the same test everywhere."""

import numpy as np
import pytest

from benchmarks.bench_protocol import late_split, refit_split
from tests.conftest import compose_config
from towernas.data import load_dataset
from towernas.data.interactions import TEST, TRAIN, VALID

pytestmark = pytest.mark.usefixtures("data_root")


@pytest.fixture(scope="module")
def data():
    return load_dataset(compose_config().dataset, progress=False)


def test_refit_trains_on_train_and_validation_and_keeps_test(data):
    refit = refit_split(data)
    assert not (refit.split == VALID).any()
    assert ((refit.split == TRAIN) == (data.split != TEST)).all()
    a, b = data.queries("test"), refit.queries("test")
    assert (a.positions == b.positions).all() and (a.targets.values == b.targets.values).all()
    assert (a.exclude.values == b.exclude.values).all()  # train + validation items masked, as before


def test_late_validation_is_the_last_quarter_of_each_users_train_period(data):
    late = late_split(data)
    assert ((late.split == TEST) == (data.split != TRAIN)).all()  # never read by the selection
    for u in range(0, data.n_users, 7):
        rows = slice(data.user_indptr[u], data.user_indptr[u + 1])
        train = int((data.split[rows] == TRAIN).sum())
        codes = late.split[rows][:train]
        n_late = int(np.floor(train * 0.25)) if train - int(np.floor(train * 0.25)) >= 1 else 0
        assert (codes[: train - n_late] == TRAIN).all() and (codes[train - n_late:] == VALID).all()


def test_matched_validation_sits_where_test_sits_on_other_users(data):
    from benchmarks.bench_protocol import matched_split

    matched = matched_split(data)
    last = data.split == TEST
    assert ((matched.split == TRAIN) == ~last).all()  # everything before the last quarter trains
    valid_users = set(np.unique(data.users[matched.split == VALID]))
    test_users = set(np.unique(data.users[matched.split == TEST]))
    assert not valid_users & test_users and valid_users and test_users  # two disjoint halves of the users
    assert abs(len(valid_users) - len(test_users)) < 0.3 * (len(valid_users) + len(test_users))
    assert ((matched.split != TRAIN) == last).all()  # both read the last quarter
