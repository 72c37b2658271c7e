"""The negative samplers: the registry contract, each proposal's empirical distribution against its stated q,
the normalisation of log q, seeded draws and resumption, positive masking, and the objective's loss.

Distribution checks compare the empirical frequencies of M draws with the stated q in total variation,
TV = 1/2 sum_j |f_j - q_j|, against ``_tv_bound(M, K)``: for M iid draws over K categories
E[TV] <= 1/2 sum_j sqrt(q_j (1 - q_j) / M) <= 1/2 sqrt((K - 1) / M) (Cauchy-Schwarz), and TV moves by at
most 1/M when one draw changes, so P(TV > E[TV] + t) <= exp(-2 M t^2) (McDiarmid). The bound adds the t
with failure probability 1e-6: loose enough that a correct sampler never fails it (the seeds are fixed
anyway), tight enough that each test also shows the nearest plausible wrong q is several bounds away.
"""

import io
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from towernas.data.batches import training_batch
from towernas.data.train_stats import TrainStats
from towernas.losses.retrieval import in_batch_softmax
from towernas.samplers import SAMPLERS, SamplerError, StreamingFrequencyEstimator, build_sampler
from towernas.samplers.cluster import ClusterSampler
from towernas.samplers.popularity import PopularitySampler
from towernas.train.objective import RetrievalObjective


def _stats(item_counts) -> TrainStats:
    counts = np.asarray(item_counts, dtype=np.int64)
    return TrainStats(item_counts=counts, user_counts=np.array([3, 2, 1]), recent_item_counts=counts // 2,
                      pair_keys=np.arange(3, dtype=np.int64))


def _tv(ids: torch.Tensor, q: np.ndarray) -> float:
    """Total variation between the empirical distribution of ``ids`` and ``q`` (K,)."""
    freq = np.bincount(ids.reshape(-1).numpy(), minlength=len(q)) / ids.numel()
    return 0.5 * float(np.abs(freq - q).sum())


def _tv_bound(m: int, k: int, failure: float = 1e-6) -> float:
    return 0.5 * math.sqrt((k - 1) / m) + math.sqrt(math.log(1 / failure) / (2 * m))


def _l1_tv(p: np.ndarray, q: np.ndarray) -> float:
    return 0.5 * float(np.abs(p - q).sum())


N_SMALL = 30
COUNTS = np.random.default_rng(0).integers(0, 40, N_SMALL)
VECTORS = F.normalize(torch.randn(N_SMALL, 8, generator=torch.Generator().manual_seed(1)), dim=1)


def _encode(ids: torch.Tensor) -> torch.Tensor:
    return VECTORS[ids]


def _step(seed: int, b: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(b, 8, generator=g), dim=1), torch.randint(0, N_SMALL, (b,), generator=g)


# ---------------------------------------------------------------------------------------------- registry

B, n = 5, 8
SHAPES = {"in_batch": (B,), "uniform": (n,), "popularity": (n,), "mixed": (B + n,), "dns": (B, n), "cluster": (B, n)}
OPTIONS = {"cluster": {"n_clusters": 4}, "dns": {"pool": 16}}  # small catalogue: fewer clusters, a smaller pool


def test_every_registered_sampler_builds_fits_and_samples_in_range_with_finite_log_q():
    assert set(SAMPLERS.names()) == set(SHAPES)  # a new sampler states its shape here
    for name in SAMPLERS.names():
        for options in ({}, OPTIONS.get(name, {})):  # the defaults, and the small-catalogue options
            sampler = build_sampler(name, seed=0, **options)
            sampler.fit(_stats(COUNTS))
            query, positives = _step(0, B)
            sampler.observe(positives)
            neg = sampler.sample(query, positives, n, encode_items=_encode)
            assert tuple(neg.ids.shape) == SHAPES[name], name
            assert neg.ids.dtype == torch.long and neg.shared == (len(SHAPES[name]) == 1), name
            assert int(neg.ids.min()) >= 0 and int(neg.ids.max()) < N_SMALL, name
            assert neg.log_q.shape == neg.ids.shape and bool(torch.isfinite(neg.log_q).all()), name
            if neg.includes_positives:
                assert torch.equal(neg.ids[:B], positives), name
            pos_log_q = sampler.log_q(query, positives, n)  # the objective's positive column
            assert pos_log_q.shape == positives.shape and bool(torch.isfinite(pos_log_q).all()), name


def test_an_unknown_name_is_one_line_listing_the_known_samplers():
    with pytest.raises(SamplerError) as err:
        build_sampler("hardest", key="retrain.sampler")
    message = str(err.value)
    assert "\n" not in message and message.startswith("retrain.sampler='hardest'")
    assert all(repr(name) in message for name in SAMPLERS.names())
    with pytest.raises(SamplerError, match=r"unknown argument\(s\) \['exponnent'\]"):
        build_sampler("popularity", exponnent=0.5)


@pytest.mark.parametrize("name, options, key", [
    ("popularity", {"exponent": 1.5}, "sampler.popularity.exponent"),
    ("popularity", {"exponent": -0.1}, "sampler.popularity.exponent"),
    ("popularity", {"smoothing": 0.0}, "sampler.popularity.smoothing"),
    ("dns", {"pool": 0}, "sampler.dns.pool"),
    ("cluster", {"n_clusters": 0}, "sampler.cluster.n_clusters"),
    ("cluster", {"temperature": 0.0}, "sampler.cluster.temperature"),
    ("cluster", {"refresh_every": 0}, "sampler.cluster.refresh_every"),
    *((name, {"alpha": value}, f"sampler.{name}.alpha") for name in ("in_batch", "mixed") for value in (0.0, 1.5)),
])
def test_bad_options_raise_one_line_naming_the_key(name, options, key):
    with pytest.raises(SamplerError) as err:
        build_sampler(name, **options)
    message = str(err.value)
    assert message.startswith(f"{key}=") and "\n" not in message


def test_samplers_refuse_what_they_cannot_run():
    query, positives = _step(0, B)
    for name in ("dns", "cluster"):
        sampler = build_sampler(name, **OPTIONS[name])
        sampler.fit(_stats(COUNTS))
        assert sampler.needs_encoder
        with pytest.raises(SamplerError, match=f"sampler={name} needs the item tower"):
            sampler.sample(query, positives, n)
    dns = build_sampler("dns", pool=4)
    dns.fit(_stats(COUNTS))
    with pytest.raises(SamplerError, match=r"sampler\.dns\.pool=4: expected at least n_negatives=8"):
        dns.sample(query, positives, 8, encode_items=_encode)


# -------------------------------------------------------------------------- empirical distribution vs q

M = 200_000  # draws per distribution check (N = 50 items: bound 0.0135)


def test_uniform_draws_match_n_over_N():
    sampler = build_sampler("uniform", seed=1)
    sampler.fit(_stats(np.zeros(50)))
    neg = sampler.sample(None, torch.tensor([0]), M)
    q = np.full(50, 1 / 50)
    assert _tv(neg.ids, q) < _tv_bound(M, 50)
    assert torch.allclose(neg.log_q, torch.full((M,), math.log(M / 50)))
    tilted = np.linspace(0.9, 1.1, 50) / np.linspace(0.9, 1.1, 50).sum()  # +-10% around uniform
    assert _l1_tv(tilted, q) > 1.5 * _tv_bound(M, 50)


POP_COUNTS = np.r_[np.array([400, 200, 100, 60, 30, 20, 10, 5, 2, 1]), np.zeros(40, dtype=int)]  # 50 items


def _popularity_q(exponent: float, smoothing: float) -> np.ndarray:
    w = (POP_COUNTS.astype(np.float64) + smoothing) ** exponent
    return w / w.sum()


@pytest.mark.parametrize("exponent", [0.0, 0.5, 1.0])
def test_popularity_draws_match_smoothed_counts_to_the_exponent(exponent):
    smoothing = 0.5
    sampler = build_sampler("popularity", seed=2, exponent=exponent, smoothing=smoothing)
    sampler.fit(_stats(POP_COUNTS))
    q = _popularity_q(exponent, smoothing)
    bound = _tv_bound(M, len(q))
    neg = sampler.sample(None, torch.tensor([0]), M)
    assert _tv(neg.ids, q) < bound
    assert torch.allclose(neg.log_q, torch.as_tensor(np.log(M * q), dtype=torch.float32)[neg.ids], atol=1e-5)
    per_row = sampler.draw((400, 500))  # the per-row draw of the same distribution
    assert per_row.shape == (400, 500) and _tv(per_row, q) < bound
    for other in (0.0, 0.5, 1.0):  # every other exponent, and ignoring the smoothing, is far outside the bound
        if other != exponent:
            assert _l1_tv(q, _popularity_q(other, smoothing)) > 5 * bound
    if exponent > 0:
        assert _l1_tv(q, _popularity_q(exponent, 1.0)) > 1.5 * bound


def test_mixed_log_q_is_the_streamed_in_batch_count_plus_n_over_N():
    """Hand computation of the estimator (alpha = 0.5, duplicates counted) after two batches, t = 2:

    item 1: gap 1 at t=1          -> EMA 0.5, bias-corrected 0.5 / (1 - 0.5) = 1,          q = 1;
    item 2: gaps 1, 1             -> EMA 0.5, 0.75; corrected 0.75 / (1 - 0.25) = 1,       q = 1;
    item 3: twice at t=2: gaps 2, 0 -> EMA 1, 0.5; corrected 0.5 / (1 - 0.25) = 2/3,      q = 1.5;
    unseen items: q = 1 / (t + 1) = 1/3.  The uniform part adds n / N = 4 / 10 to every item.
    """
    sampler = build_sampler("mixed", seed=0, alpha=0.5)
    sampler.fit(_stats(np.zeros(10)))
    sampler.observe(torch.tensor([1, 2]))
    sampler.sample(None, torch.tensor([1, 2]), 4)
    positives = torch.tensor([2, 3, 3])
    sampler.observe(positives)
    neg = sampler.sample(None, positives, 4)
    in_batch = np.full(10, 1 / 3)
    in_batch[[1, 2, 3]] = [1.0, 1.0, 1.5]
    expected = np.log(in_batch + 4 / 10)
    assert neg.includes_positives and torch.equal(neg.ids[:3], positives) and neg.ids.shape == (7,)
    assert torch.allclose(neg.log_q, torch.as_tensor(expected[neg.ids.numpy()], dtype=torch.float32), atol=1e-6)
    assert torch.allclose(sampler.log_q(None, torch.arange(10), 4), torch.as_tensor(expected, dtype=torch.float32),
                          atol=1e-6)
    # the uniform part of a large pool is uniform
    big = sampler.sample(None, positives, M)
    assert _tv(big.ids[3:], np.full(10, 0.1)) < _tv_bound(M, 10)


class _RecordingEncoder:
    """One-hot item vectors (query @ item.T reads the query's score table) that remember every pool."""

    def __init__(self, n_items: int) -> None:
        self.eye, self.pools = torch.eye(n_items), []

    def __call__(self, ids: torch.Tensor) -> torch.Tensor:
        self.pools.append(ids.clone())
        return self.eye[ids]


def test_dns_returns_each_rows_n_highest_scoring_pool_items_never_its_positive():
    n_items, pool, k = 40, 24, 6
    scores = torch.randperm(4 * n_items, generator=torch.Generator().manual_seed(0)).float().reshape(4, n_items)
    dry = _RecordingEncoder(n_items)  # the pool does not depend on the positives: a first run reveals it
    sampler = build_sampler("dns", seed=3, pool=pool)
    sampler.fit(_stats(np.zeros(n_items)))
    sampler.sample(scores, torch.zeros(4, dtype=torch.long), k, encode_items=dry)
    in_pool = dry.pools[0].unique()
    outside = [i for i in range(n_items) if i not in set(in_pool.tolist())]
    positives = torch.tensor([int(in_pool[0]), int(in_pool[1]), int(in_pool[-1]), outside[0]])
    for row, item in enumerate(positives.tolist()):  # each row's positive is its highest-scoring item
        scores[row, item] = scores.max() + 1
    encoder = _RecordingEncoder(n_items)
    sampler = build_sampler("dns", seed=3, pool=pool)
    sampler.fit(_stats(np.zeros(n_items)))
    neg = sampler.sample(scores, positives, k, encode_items=encoder)
    pool_ids = encoder.pools[0]
    assert torch.equal(pool_ids, dry.pools[0]) and neg.ids.shape == (4, k) and not neg.shared
    for row in range(4):
        candidates = pool_ids[pool_ids != positives[row]]  # pool entries (with their repeats), minus the positive
        order = torch.argsort(scores[row, candidates], descending=True, stable=True)
        expected = candidates[order[:k]].sort().values
        assert torch.equal(neg.ids[row].sort().values, expected), row
    assert bool((neg.ids != positives[:, None]).all())
    assert torch.allclose(neg.log_q, torch.full((4, k), math.log(pool / n_items)))
    # the pool itself is uniform
    big = _RecordingEncoder(n_items)
    wide = build_sampler("dns", seed=4, pool=M)
    wide.fit(_stats(np.zeros(n_items)))
    wide.sample(scores[:1], positives[:1], 1, encode_items=big)
    assert _tv(big.pools[0], np.full(n_items, 1 / n_items)) < _tv_bound(M, n_items)


# K = 4 clusters over 12 items (sizes 2, 4, 6, 0), tau = 0.5, three queries
CENTROIDS = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.6, 0.6, 0.6]])
ASSIGN = torch.tensor([0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2])
QUERIES = F.normalize(torch.tensor([[0.6, 0.8, 0.0], [0.2, 0.3, 0.9], [1.0, 1.0, 1.0]]), dim=1)
TAU = 0.5


def _cluster_q(queries=QUERIES) -> np.ndarray:
    """(B, N) q(j | u) = exp(<u, mu_c(j)> / tau) / Z(u), by hand in float64."""
    u, mu, c = queries.double().numpy(), CENTROIDS.double().numpy(), ASSIGN.numpy()
    out = np.zeros((len(u), len(c)))
    for b in range(len(u)):
        w = np.array([math.exp(float(u[b] @ mu[c[j]]) / TAU) for j in range(len(c))])
        out[b] = w / w.sum()
    return out


def _cluster_sampler(seed: int = 5) -> ClusterSampler:
    sampler = build_sampler("cluster", seed=seed, temperature=TAU, n_clusters=4)
    sampler.fit(_stats(np.zeros(len(ASSIGN))))
    sampler.set_clusters(CENTROIDS, ASSIGN)
    return sampler


def test_cluster_draws_match_the_centroid_softmax_per_query():
    m = 100_000
    sampler = _cluster_sampler()
    q = _cluster_q()
    neg = sampler.sample(QUERIES, torch.zeros(3, dtype=torch.long), m)
    assert neg.ids.shape == (3, m) and not bool((ASSIGN[neg.ids] == 3).any())  # the empty cluster is never drawn
    bound = _tv_bound(m, len(ASSIGN))
    # the nearest wrong proposal: clusters drawn without their size factor |c| (items of small clusters favoured)
    no_size = q / np.bincount(ASSIGN.numpy(), minlength=4)[ASSIGN.numpy()][None, :]
    no_size /= no_size.sum(1, keepdims=True)
    for row in range(3):
        assert _tv(neg.ids[row], q[row]) < bound, row
        assert _l1_tv(q[row], no_size[row]) > 3 * bound, row
    assert torch.allclose(neg.log_q, torch.as_tensor(np.log(m * q), dtype=torch.float32).gather(1, neg.ids),
                          atol=1e-5)
    all_ids = torch.arange(len(ASSIGN)).expand(3, -1)
    per_row = sampler.log_q(QUERIES, all_ids, 7).double().exp() / 7
    assert torch.allclose(per_row, torch.as_tensor(q), atol=1e-6)
    assert torch.allclose(per_row.sum(1), torch.ones(3, dtype=torch.float64), atol=1e-6)


def test_cluster_refresh_recovers_well_separated_blobs():
    g = torch.Generator().manual_seed(0)
    centres = torch.eye(4)[:3] * 5
    vectors = torch.cat([centres[c] + 0.05 * torch.randn(10, 4, generator=g) for c in range(3)])
    sampler = build_sampler("cluster", seed=0, n_clusters=3, refresh_every=100)
    sampler.fit(_stats(np.zeros(30)))
    sampler.sample(F.normalize(torch.randn(2, 4, generator=g), dim=1), torch.tensor([0, 1]), 4,
                   encode_items=lambda ids: vectors[ids])
    blobs = sampler.assign.reshape(3, 10)
    assert all(len(set(row.tolist())) == 1 for row in blobs) and len(set(blobs[:, 0].tolist())) == 3
    assert sampler.steps_since == 1


# ------------------------------------------------------------------------------------ log q normalisation

@pytest.mark.parametrize("name, options", [("uniform", {}), ("popularity", {"exponent": 0.0}),
                                           ("popularity", {"exponent": 0.75}), ("popularity", {"exponent": 1.0})])
def test_shared_proposals_expect_n_draws_in_all(name, options):
    sampler = build_sampler(name, **options)
    sampler.fit(_stats(POP_COUNTS))
    for k in (1, 64):
        total = sampler.log_q(None, torch.arange(len(POP_COUNTS)), k).double().exp().sum() / k
        assert abs(float(total) - 1.0) < 1e-5, (name, k)


def test_in_batch_log_q_is_the_estimators_and_normalises_to_the_batch_size():
    n_items, b = 200, 32
    rng = np.random.default_rng(0)
    p = 1.0 / np.arange(1, n_items + 1) ** 0.8
    p /= p.sum()
    in_batch, mixed = build_sampler("in_batch"), build_sampler("mixed")
    for sampler in (in_batch, mixed):
        sampler.fit(_stats(np.zeros(n_items)))
    est = StreamingFrequencyEstimator(n_items, alpha=0.01)
    for _ in range(1000):
        positives = torch.as_tensor(rng.choice(n_items, b, p=p))
        for sampler in (in_batch, mixed):
            sampler.observe(positives)
        est.update(positives)
    neg = in_batch.sample(None, positives, 64)
    assert torch.equal(neg.ids, positives) and torch.equal(neg.log_q, est.log_q(positives))
    everything = torch.arange(n_items)
    assert torch.equal(in_batch.log_q(None, everything, 64), est.log_q(everything))
    # the estimated expected draws per step sum to the batch size (measured 1.008); mixed adds exactly n
    in_batch_total = float(in_batch.log_q(None, everything, 64).double().exp().sum())
    assert abs(in_batch_total / b - 1.0) < 0.05
    mixed_total = float(mixed.log_q(None, everything, 64).double().exp().sum())
    assert abs((mixed_total - 64) / b - 1.0) < 0.05
    assert abs(mixed_total - 64 - in_batch_total) < 1e-3 * b


def test_dns_log_q_is_a_constant_that_cancels():
    """DNS keeps the hardest candidates on purpose and corrects nothing: log q is log(pool / N) for every id,
    the positive's included, so it drops out of the softmax (exp(log q) / n sums to pool / n, not 1)."""
    sampler = build_sampler("dns", pool=16)
    sampler.fit(_stats(COUNTS))
    query, positives = _step(1, B)
    neg = sampler.sample(query, positives, n, encode_items=_encode)
    constant = math.log(16 / N_SMALL)
    assert torch.allclose(neg.log_q, torch.full((B, n), constant))
    assert torch.allclose(sampler.log_q(query, positives, n), torch.full((B,), constant))


# -------------------------------------------------------------------------------- seeds and resumption

RUN_OPTIONS = {"cluster": {"n_clusters": 4, "refresh_every": 2}, "dns": {"pool": 16}}  # cluster re-fits with faiss


def _built(name: str, seed: int):
    sampler = build_sampler(name, seed=seed, **RUN_OPTIONS.get(name, {}))
    sampler.fit(_stats(COUNTS))
    return sampler


def _run(sampler, steps: range) -> list[tuple[torch.Tensor, torch.Tensor]]:
    out = []
    for s in steps:
        query, positives = _step(100 + s)
        sampler.observe(positives)
        neg = sampler.sample(query, positives, 6, encode_items=_encode)
        out.append((neg.ids.clone(), neg.log_q.clone()))
    return out


def _same(a, b) -> bool:
    return all(torch.equal(x[0], y[0]) and torch.equal(x[1], y[1]) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("name", SAMPLERS.names())
def test_a_seed_fixes_every_draw_and_a_state_dict_resumes_the_sequence(name):
    assert _same(_run(_built(name, 7), range(6)), _run(_built(name, 7), range(6)))
    if name != "in_batch":  # in-batch negatives are the batch itself: no randomness
        assert not _same(_run(_built(name, 7), range(6)), _run(_built(name, 8), range(6)))
    first = _built(name, 7)
    _run(first, range(3))
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)  # as a checkpoint does (weights_only-safe state)
    tail = _run(first, range(3, 6))
    buffer.seek(0)
    resumed = _built(name, 7)  # a restart builds the sampler from the same config, seed included
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    assert _same(tail, _run(resumed, range(3, 6)))
    assert not _same(tail, _run(_built(name, 7), range(3, 6)))  # without it: the first steps' draws (or q) again


# ---------------------------------------------------------------------------------- positive masking

def test_samplers_that_mask_positives_never_return_them():
    masking = [name for name in SAMPLERS.names() if SAMPLERS.get(name).masks_positives]
    assert masking == ["dns"]
    for seed in range(30):
        for n_items, pool in ((6, 6), (6, 9), (40, 12)):  # the whole catalogue (positives always in it), a part
            encoder = _RecordingEncoder(n_items)
            sampler = build_sampler("dns", seed=seed, pool=pool)
            sampler.fit(_stats(np.zeros(n_items)))
            positives = torch.arange(8) % n_items
            query = torch.randn(8, n_items, generator=torch.Generator().manual_seed(seed))
            query[torch.arange(8), positives] = 10.0  # each row's positive is its hardest item
            neg = sampler.sample(query, positives, 4, encode_items=encoder)
            assert not bool((neg.ids == positives[:, None]).any()), seed
            assert int(neg.ids.min()) >= 0 and int(neg.ids.max()) < n_items
            # a pool drawn without replacement: a row never holds the same negative twice
            assert all(len(set(row.tolist())) == 4 for row in neg.ids)
            assert len(set(encoder.pools[0].tolist())) == len(encoder.pools[0]) == min(pool, n_items)
    with pytest.raises(SamplerError, match="sampler.dns.pool=6: 4 candidates"):
        sampler = build_sampler("dns", pool=6)
        sampler.fit(_stats(np.zeros(4)))
        sampler.sample(torch.randn(2, 4), torch.tensor([0, 1]), 4, encode_items=_RecordingEncoder(4))


# ------------------------------------------------------------------------------------- the objective

def _towers(data, seed=0):
    g = torch.Generator().manual_seed(seed)
    users, items = torch.randn(data.n_users, 8, generator=g), torch.randn(data.n_items, 8, generator=g)
    return (lambda batch: F.normalize(users[batch["user"]], dim=-1),
            lambda batch: F.normalize(items[batch["item"]], dim=-1), items)


def _batches(data, steps=5, size=64, seed=0):
    rng = np.random.default_rng(seed)
    rows = data.rows("train")
    return [training_batch(data, rng.choice(rows, size, replace=False)) for _ in range(steps)]


def test_the_default_objective_is_the_in_batch_softmax_with_the_estimators_log_q(data):
    encode_users, encode_items, _ = _towers(data)
    objective = RetrievalObjective(data, sampler="in_batch", loss="softmax", temperature=0.07)
    est = StreamingFrequencyEstimator(data.n_items, alpha=0.01)
    hits = 0
    for batch in _batches(data):
        loss = objective(batch, encode_users, encode_items)
        est.update(batch["item"])
        items = batch["item"]
        expected = in_batch_softmax(encode_users(batch), encode_items(batch), items, temperature=0.07,
                                    log_q=est.log_q(items))
        assert torch.equal(loss, expected)
        uncorrected = in_batch_softmax(encode_users(batch), encode_items(batch), items, temperature=0.07)
        assert abs(float(loss - uncorrected)) > 1e-3  # log q matters here
        hits += int((items[:, None] == items[None, :]).sum()) - len(items)
    assert hits > 0  # accidental hits were masked


def test_a_shared_pool_objective_is_the_sampled_softmax_with_log_q_and_masked_hits(data):
    encode_users, encode_items, item_table = _towers(data, seed=1)
    k, tau = 64, 0.1
    objective = RetrievalObjective(data, sampler="popularity", sampler_options={"exponent": 1.0},
                                   n_negatives=k, temperature=tau, seed=3)
    twin = PopularitySampler(seed=3, exponent=1.0)  # draws what the objective's sampler draws
    twin.fit(TrainStats.from_data(data))
    train_items = data.items[data.rows("train")]
    log_p = torch.as_tensor(np.log(_counts_q(train_items, data.n_items)))  # by hand: (count + 1) / total
    masked_any = False
    for batch in _batches(data, steps=3, seed=1):
        loss = objective(batch, encode_users, encode_items)
        positives = batch["item"]
        twin.observe(positives)
        negatives = twin.sample(None, positives, k).ids
        u = encode_users(batch).double()
        pos = (u * encode_items(batch).double()).sum(-1, keepdim=True)
        neg = u @ F.normalize(item_table[negatives], dim=-1).double().T
        logits = torch.cat([pos, neg], 1) / tau - math.log(k) - torch.cat(
            [log_p[positives][:, None], log_p[negatives][None, :].expand(len(positives), -1)], 1)
        hit = torch.cat([torch.zeros(len(positives), 1, dtype=torch.bool),
                         negatives[None, :] == positives[:, None]], 1)  # accidental hits
        masked_any |= bool(hit.any())
        expected = -(logits[:, 0] - torch.logsumexp(logits.masked_fill(hit, -math.inf), 1)).mean()
        assert abs(float(loss) - float(expected)) < 1e-5
        unmasked = -(logits[:, 0] - torch.logsumexp(logits, 1)).mean()
        uncorrected = torch.cat([pos, neg], 1) / tau
        uncorrected = -(uncorrected[:, 0] - torch.logsumexp(uncorrected.masked_fill(hit, -math.inf), 1)).mean()
        assert abs(float(loss) - float(uncorrected)) > 1e-3
        if hit.any():
            assert abs(float(loss) - float(unmasked)) > 1e-4
    assert masked_any


def _counts_q(items: np.ndarray, n_items: int) -> np.ndarray:
    counts = np.bincount(items, minlength=n_items).astype(np.float64) + 1.0
    return counts / counts.sum()
