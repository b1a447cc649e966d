"""Triplet loss with an emotion-polarity constraint (Mocanu et al. 2023, sec. 3.4, eqs. 12–16)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from emofuse.labels import polarities as polarities_of

Mining = Literal["all", "hard"]


def _squared_distances(x: Tensor) -> Tensor:
    # squared distances from the Gram matrix, no square root: the gradient stays finite at
    # zero distance (a sqrt of summed squared differences would give NaN there)
    sq = x.square().sum(-1)
    return (sq[:, None] + sq[None, :] - 2 * x @ x.T).clamp(min=0)


def _as_polarity_table(polarities: Sequence[int] | Tensor, device: torch.device) -> Tensor:
    table = torch.as_tensor(polarities)  # a Python sequence is checked on the CPU
    # checked before the cast to long, which would turn 0.5 into a silent 0; a meta tensor has
    # shapes only, so its values cannot be checked
    values_ok = table.device.type == "meta" or bool(
        ((table == -1) | (table == 0) | (table == 1)).all()
    )
    if table.dim() != 1 or not values_ok:
        raise ValueError(
            f"polarities: expected one value in (+1, -1, 0) per class, got {table.tolist()}"
        )
    return table.long().to(device)


def _hinge_sum_over_pairs(
    dist: Tensor, sorted_dist: Tensor, order: Tensor, closer: Tensor, farther: Tensor, margin: float
) -> tuple[Tensor, Tensor]:
    """``Σ_a Σ_{p ∈ closer[a], n ∈ farther[a]} [d_ap − d_an + margin]₊`` and the number of its
    positive terms, in O(B²) memory and O(B² log B) time instead of the (B, B, B) tensor.

    For one anchor ``a`` write ``u_p = d_ap + margin`` and ``v_n = d_an``. Then
    ``Σ_n [u_p − v_n]₊ = c_p · u_p − s_p`` with ``c_p = #{n : v_n ≤ u_p}`` and
    ``s_p = Σ_{n : v_n ≤ u_p} v_n``. With the row ``d_a·`` sorted once, ``c_p`` and ``s_p`` are
    prefix counts and prefix sums of the ``farther`` entries in that order, read at the position
    ``searchsorted`` gives for ``u_p``. Terms with ``v_n = u_p`` add 0 to the value but, as in
    ``clamp(min=0)``, pass their gradient, hence ``≤`` for the sum; the count of positive terms
    uses ``v_n < u_p``. Ties in the sort do not matter: equal entries fall on the same side of
    every threshold.

    Inputs:
        dist: (B, B) squared distances; sorted_dist, order: ``dist.sort(dim=1)``;
        closer, farther: (B, B) bool, ``[a, p]`` / ``[a, n]`` take part for anchor ``a``.
    """
    in_farther = farther.gather(1, order)
    # prefix counts/sums with a leading 0: entry k covers the first k sorted distances
    counts = F.pad(in_farther.cumsum(1), (1, 0))
    sums = F.pad(torch.where(in_farther, sorted_dist, 0.0).cumsum(1), (1, 0))
    upper = dist + margin  # u_ap for every (a, p); only closer ones are kept
    at_most = torch.searchsorted(sorted_dist, upper, right=True)
    below = torch.searchsorted(sorted_dist, upper, right=False)
    per_pair = counts.gather(1, at_most) * upper - sums.gather(1, at_most)
    total = torch.where(closer, per_pair, 0.0).sum()
    positive = torch.where(closer, counts.gather(1, below), 0).sum()
    return total, positive


def polarity_triplet_loss(
    embeddings: Tensor,
    labels: Tensor,
    polarities: Sequence[int] | Tensor,
    *,
    alpha: float = 0.2,
    beta: float = 0.2,
    mining: Mining = "all",
    normalize: bool = True,
) -> Tensor:
    """The emotion metric loss of eq. 16, mined within a batch.

    For an anchor ``a`` of a class whose polarity (+1 or −1) has other classes (its *related*
    classes):

    * term 1 (eq. 14): ``[‖a−p‖² − ‖a−r1‖² + α]₊``, ``p`` of the anchor's class, ``r1`` of a
      related class;
    * term 2 (eq. 15): ``[‖a−r2‖² − ‖a−n‖² + β]₊``, ``r2`` related, ``n`` of a different
      polarity (opposite or neutral).

    A neutral anchor, or one whose polarity has no other class, takes the standard triplet
    (eq. 13) ``[‖a−p‖² − ‖a−n‖² + α]₊`` with ``n`` of any other class.

    Args:
        embeddings: (B, D).
        labels: (B,) class indices.
        polarities: (K,) polarity of each class, +1, −1 or 0 (see
            :func:`emofuse.labels.polarities`).
        alpha: the margin of eq. 14 (the paper gives no value).
        beta: the margin of eq. 15 (the paper gives no value).
        mining: ``"all"`` — every valid triplet of the three kinds, averaged over those with a
            positive loss (pytorch-metric-learning's default reduction); ``"hard"`` — batch-hard:
            per anchor and term the farthest ``p``/``r2`` and the closest ``r1``/``n``, averaged
            over the anchor-terms that have a triplet.
            ``"all"`` takes O(B²) memory and O(B² log B) time (no (B, B, B) tensor).
        normalize: L2-normalise the embeddings first.
    Returns:
        a scalar; 0 with a zero, finite gradient when the batch holds no valid triplet, an
        empty batch (B = 0) included.
    Raises:
        ValueError: for an unknown ``mining``, ``embeddings`` not (B, D), ``labels`` not (B,)
            integer class indices on the embeddings' device with one polarity each, or
            ``polarities`` not one of +1, −1, 0 per class.
    """
    if mining not in ("all", "hard"):
        raise ValueError(f"mining: expected 'all' or 'hard', got {mining!r}")
    if embeddings.dim() != 2:
        raise ValueError(f"embeddings: expected (B, D), got shape {tuple(embeddings.shape)}")
    integer = not (labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool)
    if labels.shape != embeddings.shape[:1] or not integer:
        raise ValueError(
            f"labels: expected ({embeddings.shape[0]},) integer class indices matching "
            f"embeddings (B, D) = {tuple(embeddings.shape)}, got {labels.dtype} of shape "
            f"{tuple(labels.shape)}"
        )
    if labels.device != embeddings.device:
        raise ValueError(
            f"labels: expected them on the embeddings' device {embeddings.device}, "
            f"got {labels.device}"
        )
    table = _as_polarity_table(polarities, embeddings.device)
    if labels.numel() == 0:  # no triplet: the sum of no element, 0 with a zero gradient
        return embeddings.sum()
    # a meta tensor has no values to check
    if labels.device.type != "meta" and (labels.min() < 0 or labels.max() >= len(table)):
        raise ValueError(
            f"labels: expected class indices in [0, {len(table)}) (one polarity per class), "
            f"got values {labels.min().item()}..{labels.max().item()}"
        )
    x = F.normalize(embeddings, dim=-1) if normalize else embeddings
    dist = _squared_distances(x)
    # a class is "polar" when another class shares its non-zero polarity
    shares = (table[:, None] == table[None, :]) & (table[:, None] != 0)
    polar = (shares.sum(1) > 1)[labels]
    pol = table[labels]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    same = (labels[:, None] == labels[None, :]) & ~eye
    other = labels[:, None] != labels[None, :]
    related = other & (pol[:, None] == pol[None, :]) & (pol[:, None] != 0)
    different_polarity = pol[:, None] != pol[None, :]
    # (anchors, closer set, farther set, margin) for eq. 13, eq. 14 and eq. 15
    kinds = (
        (~polar, same, other, alpha),
        (polar, same, related, alpha),
        (polar, related, different_polarity, beta),
    )
    total = dist.new_zeros(())
    count = dist.new_zeros(())
    if mining == "all":
        sorted_dist, order = dist.sort(dim=1)  # each anchor's row once, shared by the kinds
    for anchors, closer, farther, margin in kinds:  # three triplet kinds, not triplets
        closer, farther = closer & anchors[:, None], farther & anchors[:, None]
        if mining == "all":
            losses, positive = _hinge_sum_over_pairs(
                dist, sorted_dist, order, closer, farther, margin
            )
            count = count + positive
        else:
            hardest_closer = torch.where(closer, dist, -torch.inf).amax(1)
            hardest_farther = torch.where(farther, dist, torch.inf).amin(1)
            valid = closer.any(1) & farther.any(1)
            gap = hardest_closer - hardest_farther  # -inf for an anchor without a triplet
            losses = torch.where(valid, (gap + margin).clamp(min=0), 0.0)
            count = count + valid.sum()
        total = total + losses.sum()
    return total / count.clamp(min=1)


class PolarityTripletLoss(nn.Module):
    """Module form of :func:`polarity_triplet_loss` (Mocanu et al. 2023, eq. 16).

    Args:
        polarities: polarity (+1, −1, 0) of each class, or
        label_names: class names whose polarities :func:`emofuse.labels.polarities` gives
            (e.g. ``emofuse.labels.RAVDESS_8``); exactly one of the two.
        alpha: as in :func:`polarity_triplet_loss`.
        beta: as in :func:`polarity_triplet_loss`.
        mining: as in :func:`polarity_triplet_loss`.
        normalize: as in :func:`polarity_triplet_loss`.

    Inputs:
        embeddings: (B, D); labels: (B,) class indices.
    Returns:
        a scalar loss; 0 with a zero, finite gradient when the batch holds no valid triplet,
        an empty batch (B = 0) included.
    Raises:
        ValueError: when not exactly one of ``polarities`` and ``label_names`` is given, for
            values other than +1, −1, 0, an unknown ``mining``, and (at a call) as
            :func:`polarity_triplet_loss` does.
    """

    polarities: Tensor  # (K,) buffer

    def __init__(
        self,
        polarities: Sequence[int] | None = None,
        *,
        label_names: Sequence[str] | None = None,
        alpha: float = 0.2,
        beta: float = 0.2,
        mining: Mining = "all",
        normalize: bool = True,
    ) -> None:
        super().__init__()
        exactly_one = "polarities: pass exactly one of polarities or label_names"
        if polarities is None:
            if label_names is None:
                raise ValueError(exactly_one)
            polarities = polarities_of(label_names)
        elif label_names is not None:
            raise ValueError(exactly_one)
        if mining not in ("all", "hard"):
            raise ValueError(f"mining: expected 'all' or 'hard', got {mining!r}")
        self.register_buffer(
            "polarities", _as_polarity_table(polarities, torch.device("cpu")), persistent=False
        )
        self.alpha, self.beta, self.mining, self.normalize = alpha, beta, mining, normalize

    def forward(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        return polarity_triplet_loss(
            embeddings,
            labels,
            self.polarities,
            alpha=self.alpha,
            beta=self.beta,
            mining=self.mining,
            normalize=self.normalize,
        )

    def extra_repr(self) -> str:
        return (
            f"polarities={self.polarities.tolist()}, alpha={self.alpha}, beta={self.beta}, "
            f"mining={self.mining!r}, normalize={self.normalize}"
        )


__all__ = ["PolarityTripletLoss", "polarity_triplet_loss"]
