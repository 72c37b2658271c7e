"""CL4SRec (Xie et al., ICDE 2022) and CoSeRec (Liu et al. 2021) as add-ons of any user tower.

Per training step each user's history gets two augmented views (each row draws one augmentation per
view, uniformly among the method's), both views go through the user tower with the row's features, and
InfoNCE between them (``towernas.losses.contrastive.info_nce``, other rows as negatives) is added to the
loss with weight ``weight``. CL4SRec's augmentations are crop, mask and reorder; CoSeRec adds substitute
and insert with the most correlated item (most frequent train successor). Inference is the backbone's.
"""

from __future__ import annotations

import torch

from towernas.addons.base import ADDONS, AddOn, AddOnError, check_range
from towernas.addons.contrastive import augment
from towernas.losses.contrastive import info_nce


@ADDONS.register("cl4srec")
class CL4SRec(AddOn):
    """Two augmented views of the history, InfoNCE between their user vectors.

    Args:
        weight: lambda of the InfoNCE term between the two views.
        temperature: InfoNCE's temperature.
        crop: share of the history a crop keeps (a contiguous window); mask: probability of masking each item;
            reorder: share of the history shuffled (a contiguous window); each in [0, 1] (``augment``).
        seed: of the augmentations' random stream (the trainer's seed; not an option).
    """

    name = "cl4srec"
    operations = ("crop", "mask", "reorder")
    needs_user_tower = True

    def __init__(self, weight: float = 0.1, temperature: float = 0.2, crop: float = 0.6, mask: float = 0.3,
                 reorder: float = 0.3, seed: int = 0) -> None:
        super().__init__()
        key = f"addon.{self.name}"
        self.weight_ = check_range(f"{key}.weight", weight, 0.0, None)
        self.cl_temperature = check_range(f"{key}.temperature", temperature, 1e-6, None, "a positive number")
        self.ratios = {"crop": check_range(f"{key}.crop", crop, 0.0, 1.0), "mask": check_range(f"{key}.mask", mask, 0.0, 1.0),
                       "reorder": check_range(f"{key}.reorder", reorder, 0.0, 1.0)}
        self.seed, self.generator, self.pad, self.similar = int(seed), None, None, None
        self._pending_state = None  # a checkpointed generator state, applied when the generator is made

    def check(self, *, loss, sampler, model=None) -> None:
        if model is not None and not hasattr(model, "encode_users"):
            raise AddOnError(f"addon {self.name} needs a user tower (encode_users); {type(model).__name__} has none")
        if model is not None and hasattr(model, "train_scores"):
            raise AddOnError(f"addon {self.name} needs one user vector per history; this model's query depends on "
                             "the candidate")

    def fit(self, stats) -> None:
        self.pad = stats.n_items

    def view(self, history: torch.Tensor) -> torch.Tensor:
        """One augmented view: every row gets one of ``operations``."""
        if self.generator is None or self.generator.device != history.device:
            self.generator = torch.Generator(device=history.device)
            self.generator.manual_seed(self.seed)
            if self._pending_state is not None:
                self.generator.set_state(self._pending_state)
                self._pending_state = None
        choice = torch.randint(0, len(self.operations), (len(history),), generator=self.generator,
                               device=history.device)
        out = history.clone()
        for k, name in enumerate(self.operations):
            rows = (choice == k).nonzero().squeeze(1)  # each operation runs on the rows that drew it only
            if len(rows) == 0:
                continue
            extra = (self.similar.to(history.device),) if name in ("substitute", "insert") else ()
            out[rows] = getattr(augment, name)(history[rows], self.pad, self.ratios[name], self.generator, *extra)
        return out

    def get_extra_state(self):  # the augmentations' random stream, so a resumed run draws the same views
        return {"generator": None if self.generator is None else self.generator.get_state()}

    def set_extra_state(self, state) -> None:
        if state and state.get("generator") is not None:
            if self.generator is not None:
                self.generator.set_state(state["generator"])
            else:
                self._pending_state = state["generator"]

    def extra_loss(self, step):
        if self.weight_ == 0:
            return None
        history = step.batch["history"]
        a = step.encode_users({**step.batch, "history": self.view(history)})
        b = step.encode_users({**step.batch, "history": self.view(history)})
        return self.weight_ * info_nce(a, b, self.cl_temperature)


@ADDONS.register("coserec")
class CoSeRec(CL4SRec):
    """CL4SRec's augmentations plus substitute / insert with correlated items.

    Args:
        weight, temperature, crop, mask, reorder, seed: as ``CL4SRec``'s.
        substitute: probability of replacing each item by its most correlated item; insert: probability of
            inserting its most correlated item before each item (each in [0, 1]).
    """

    name = "coserec"
    operations = ("crop", "mask", "reorder", "substitute", "insert")

    def __init__(self, weight: float = 0.1, temperature: float = 0.2, crop: float = 0.6, mask: float = 0.3,
                 reorder: float = 0.3, substitute: float = 0.3, insert: float = 0.3, seed: int = 0) -> None:
        super().__init__(weight, temperature, crop, mask, reorder, seed)
        self.ratios["substitute"] = check_range("addon.coserec.substitute", substitute, 0.0, 1.0)
        self.ratios["insert"] = check_range("addon.coserec.insert", insert, 0.0, 1.0)

    def fit(self, stats) -> None:
        super().fit(stats)
        if stats.successors is None:
            raise AddOnError("addon coserec needs the train sequences' item successors (TrainStats.successors)")
        self.similar = torch.as_tensor(stats.successors, dtype=torch.long)
