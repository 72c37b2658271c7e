"""The joint mode (``cascade.joint=distill``): the ranker's list-wise scores flow back into the retriever.

In the spirit of CoRR (Huang et al. 2020, "Cascade Ranking with Joint Retrieval and Ranking"): after the
ranker has trained on the retriever's candidates, the retriever is fine-tuned so that its distribution over
each training query's top-K0 list follows the ranker's,

    L = KL( softmax(r / T) || softmax(s / tau) ) + alpha * CE(positive | s / tau over [positive; list])

with r the ranker's scores and s = <u(q), v_i> the retriever's (both towers' outputs are unit vectors, as
exported; its user tower program and the item embeddings are the trained parameters, re-normalised).
The positive's cross-entropy keeps the retriever anchored on what users did. Then stage 1 retrieves again
with the distilled retriever. The number of epochs is chosen on validation among 0..``epochs`` (0 = the
retriever untouched), by the whole cascade's ``select`` metric, so distillation is kept only when
validation says it helps.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F

from towernas.data.interactions import EvalQueries, InteractionData
from towernas.cascade.stages import query_batch
from towernas.cascade.retriever_stage import RetrieverStage


@torch.no_grad()
def teacher_scores(ranker, data: InteractionData, queries: EvalQueries, candidates: np.ndarray,
                   vectors: np.ndarray | None, batch_size: int = 256) -> np.ndarray:
    """(Q, K0) the ranker's scores of every training query's candidates (-inf on padding), computed once, with
    the retriever as exported (a fused ranker reads its score)."""
    ranker.eval()
    out = []
    for start in range(0, len(candidates), batch_size):
        sl = slice(start, start + batch_size)
        cand = candidates[sl]
        batch = query_batch(data, queries, sl, vectors=vectors)
        s = ranker.score(batch, torch.as_tensor(np.where(cand >= 0, cand, 0))).float().numpy()
        out.append(np.where(cand >= 0, s, -np.inf))
    return np.concatenate(out)


def distill_epoch(stage: RetrieverStage, program, items: torch.nn.Parameter, teacher_logits: np.ndarray,
                  data: InteractionData, queries: EvalQueries, candidates: np.ndarray, optimizer, *,
                  temperature: float, ranker_temperature: float, alpha: float, batch_size: int,
                  rng: np.random.Generator) -> float:
    """One pass over the training queries; the mean loss."""
    positives = queries.targets.values
    total, n = 0.0, 0
    order = rng.permutation(len(queries.users))
    for start in range(0, len(order), batch_size):
        take = order[start:start + batch_size]
        cand = candidates[take]
        valid = torch.as_tensor(cand >= 0)
        ids = torch.as_tensor(np.where(cand >= 0, cand, 0))
        teacher = F.softmax(torch.as_tensor(teacher_logits[take]) / ranker_temperature, dim=1)
        user = F.normalize(program(*stage.inputs(data, queries.users[take], queries.positions[take])), dim=-1)
        vectors = F.normalize(items, dim=-1)
        listed = torch.einsum("bd,bkd->bk", user, vectors[ids]) / temperature
        log_student = F.log_softmax(listed.masked_fill(~valid, -torch.inf), dim=1)
        kd = (teacher * (teacher.clamp_min(1e-12).log() - log_student)).masked_fill(~valid, 0.0).sum(1).mean()
        pos = torch.as_tensor(positives[take])
        own = (user * vectors[pos]).sum(-1, keepdim=True) / temperature
        ce = -F.log_softmax(torch.cat([own, listed.masked_fill(ids == pos[:, None], -torch.inf)
                                       .masked_fill(~valid, -torch.inf)], 1), dim=1)[:, 0].mean()
        loss = kd + alpha * ce
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(take)
        n += len(take)
    return total / max(n, 1)


def distill(stage: RetrieverStage, ranker, data: InteractionData, queries: EvalQueries, candidates: np.ndarray,
            validate, *, epochs: int = 3, lr: float = 1e-4, temperature: float = 0.05,
            ranker_temperature: float = 1.0, alpha: float = 1.0, batch_size: int = 256,
            seed: int = 0, vectors: np.ndarray | None = None) -> tuple[RetrieverStage, dict]:
    """The distilled retriever stage chosen on ``validate(stage) -> score`` among epochs 0..``epochs``.
    ``vectors``: the exported retriever's query vectors of ``queries`` (for a fused ranker's teacher scores)."""
    teacher = teacher_scores(ranker, data, queries, candidates, vectors, batch_size)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    program = copy.deepcopy(stage.program)
    items = torch.nn.Parameter(torch.as_tensor(np.array(stage.items, dtype=np.float32)))
    optimizer = torch.optim.Adam([*program.parameters(), items], lr=lr)
    best_score, best, log = validate(stage), stage, []
    best_epoch = 0
    for epoch in range(1, epochs + 1):
        loss = distill_epoch(stage, program, items, teacher, data, queries, candidates, optimizer,
                             temperature=temperature, ranker_temperature=ranker_temperature, alpha=alpha,
                             batch_size=batch_size, rng=rng)
        with torch.no_grad():
            candidate = stage.with_weights(copy.deepcopy(program),
                                           F.normalize(items.detach(), dim=-1).numpy().astype(np.float32))
        score = validate(candidate)
        log.append({"epoch": epoch, "loss": loss, "valid": score})
        if score > best_score:
            best_score, best, best_epoch = score, candidate, epoch
    return best, {"distill_epoch": best_epoch, "distill_log": log, "distill_valid": best_score}
