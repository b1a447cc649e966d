from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

import emofuse
from emofuse.labels import RAVDESS_8, polarities
from emofuse.losses import AVAttentionFusionLoss, PolarityTripletLoss, polarity_triplet_loss


def brute_force(emb, labels, table, alpha, beta, mining, normalize=True):
    """Eq. 16 by a Python loop over every (anchor, closer, farther) triple (differentiable)."""
    x = F.normalize(emb, dim=-1) if normalize else emb
    labels, table = labels.tolist(), list(table)
    pol = [table[y] for y in labels]
    polar = [table[y] != 0 and table.count(table[y]) > 1 for y in labels]
    idx = range(len(labels))

    def d(i, j):
        return ((x[i] - x[j]) ** 2).sum()

    triplets = []  # (anchor, closer, farther, margin)
    for a, p, n in itertools.product(idx, idx, idx):
        same = p != a and labels[p] == labels[a]
        if not polar[a]:
            if same and labels[n] != labels[a]:
                triplets.append((a, p, n, alpha))
            continue
        rel_n = labels[n] != labels[a] and pol[n] == pol[a]
        rel_p = labels[p] != labels[a] and pol[p] == pol[a]
        if same and rel_n:
            triplets.append((a, p, n, alpha))
        if rel_p and pol[n] != pol[a]:
            triplets.append((a, p, n, beta))
    if mining == "all":
        losses = [d(a, p) - d(a, n) + m for a, p, n, m in triplets]
        positive = [v for v in losses if v > 0]
        return sum(positive) / max(len(positive), 1)
    groups = {}
    for a, p, n, m in triplets:  # the kind is told apart by which set p and n come from
        kind = (labels[p] == labels[a], m if labels[p] == labels[a] else "r2")
        key = (a, kind[0], pol[n] != pol[a] and not kind[0])
        hard = groups.setdefault(key, [-1e9, 1e9, m])
        hard[0], hard[1] = max(hard[0], d(a, p)), min(hard[1], d(a, n))
    losses = [max(0.0, hp - hn + m) for hp, hn, m in groups.values()]
    return sum(losses) / max(len(losses), 1)


@pytest.mark.parametrize("mining", ["all", "hard"])
@pytest.mark.parametrize("seed", range(4))
def test_matches_brute_force(mining: str, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    table = polarities(RAVDESS_8)
    emb = torch.randn(12, 5, generator=g)
    labels = torch.randint(0, 8, (12,), generator=g)
    got = polarity_triplet_loss(emb, labels, table, alpha=0.3, beta=0.1, mining=mining)
    want = brute_force(emb, labels, table, 0.3, 0.1, mining)
    assert got.item() == pytest.approx(float(want), rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("mining", ["all", "hard"])
def test_gradient_matches_brute_force_at_zero_distances(mining: str, normalize: bool) -> None:
    # every sample has a twin at distance 0: a square-root distance would give NaN gradients
    g = torch.Generator().manual_seed(5)
    base = torch.randn(5, 3, generator=g)
    emb = base[[0, 0, 1, 1, 2, 2, 3, 3, 4, 4]].clone().requires_grad_(True)
    labels = torch.tensor([2, 2, 1, 1, 3, 3, 4, 4, 0, 0])  # happy, calm, sad, angry, neutral
    table = polarities(RAVDESS_8)
    got = polarity_triplet_loss(emb, labels, table, mining=mining, normalize=normalize)
    (grad,) = torch.autograd.grad(got, emb)
    want = brute_force(emb, labels, table, 0.2, 0.2, mining, normalize)
    (want_grad,) = torch.autograd.grad(want, emb)
    assert got.item() > 0 and grad.isfinite().all()
    torch.testing.assert_close(got, want.to(got.dtype), atol=1e-5, rtol=1e-4)
    if mining == "hard":  # twins tie as hardest: amax splits the gradient, the loop picks one
        grad, want_grad = grad.view(5, 2, 3).sum(1), want_grad.view(5, 2, 3).sum(1)
    torch.testing.assert_close(grad, want_grad, atol=1e-5, rtol=1e-4)


def test_hand_computed_neutral_anchor() -> None:
    # classes: neutral, happy, calm. Neutral anchors take the plain triplet; the happy sample has
    # a related class (calm) but none in the batch, so it contributes nothing.
    emb = torch.tensor([[0.0], [1.0], [0.5]])
    labels = torch.tensor([0, 0, 1])
    loss = polarity_triplet_loss(emb, labels, (0, 1, 1), normalize=False)
    assert loss.item() == pytest.approx(1 - 0.25 + 0.2)  # both neutral anchors give 0.95


def test_hand_computed_single_class_polarity() -> None:
    # class 1 is the only positive class: standard triplet; classes 2, 3 are related negatives.
    emb = torch.tensor([[0.0], [0.5], [0.3], [2.0]])
    labels = torch.tensor([1, 1, 2, 3])
    table = (0, 1, -1, -1)
    loss_all = polarity_triplet_loss(emb, labels, table, normalize=False)
    # positive triplets: 0.36, 0.41 (standard), 3.0, 3.05, 0.84 (eq. 15)
    assert loss_all.item() == pytest.approx((0.36 + 0.41 + 3.0 + 3.05 + 0.84) / 5)
    loss_hard = polarity_triplet_loss(emb, labels, table, normalize=False, mining="hard")
    assert loss_hard.item() == pytest.approx((0.36 + 0.41 + 3.05 + 0.84) / 4)


@pytest.mark.parametrize("mining", ["all", "hard"])
@pytest.mark.parametrize("labels", [[2, 2, 2], [4]])
def test_no_valid_triplet_is_zero_with_finite_gradient(mining: str, labels: list[int]) -> None:
    emb = torch.randn(len(labels), 4, requires_grad=True)
    loss = polarity_triplet_loss(emb, torch.tensor(labels), polarities(RAVDESS_8), mining=mining)
    loss.backward()
    assert loss.item() == 0.0
    assert emb.grad is not None and emb.grad.isfinite().all()


def test_module_from_label_names_equals_direct_polarities() -> None:
    emb, labels = torch.randn(10, 6), torch.randint(0, 8, (10,))
    by_names = PolarityTripletLoss(label_names=RAVDESS_8, mining="hard")
    direct = PolarityTripletLoss(polarities(RAVDESS_8), mining="hard")
    torch.testing.assert_close(by_names(emb, labels), direct(emb, labels))
    assert "mining='hard'" in repr(by_names)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="polarities"):
        PolarityTripletLoss()
    with pytest.raises(ValueError, match="polarities"):
        PolarityTripletLoss((0, 2))
    with pytest.raises(ValueError, match="mining"):
        PolarityTripletLoss((0, 1), mining="semi")
    with pytest.raises(ValueError, match="labels"):
        polarity_triplet_loss(torch.randn(2, 3), torch.tensor([0, 5]), (0, 1, -1))
    with pytest.raises(ValueError, match="polarities"):
        polarity_triplet_loss(torch.randn(2, 3), torch.tensor([0, 1]), (0, 0.5))
    with pytest.raises(ValueError, match=r"embeddings: expected \(B, D\)"):
        polarity_triplet_loss(torch.randn(2, 3, 1), torch.tensor([0, 1]), (0, 1))
    with pytest.raises(ValueError, match=r"labels: expected \(2,\) integer"):
        polarity_triplet_loss(torch.randn(2, 3), torch.tensor([0, 1, 1]), (0, 1))
    with pytest.raises(ValueError, match="torch.float32"):
        polarity_triplet_loss(torch.randn(2, 3), torch.tensor([0.0, 1.0]), (0, 1))


def _mean_distance(x, labels, table, which):
    d = torch.cdist(x, x).square()
    pol = torch.tensor(table)[labels]
    same_class = labels[:, None] == labels[None, :]
    same_pol = pol[:, None] == pol[None, :]
    mask = {"related": ~same_class & same_pol, "opposite": ~same_pol}[which]
    return d[mask].mean().item()


def test_separates_polarities_on_a_learnable_problem() -> None:
    g = torch.Generator().manual_seed(0)
    table = polarities(RAVDESS_8)
    labels = torch.arange(8).repeat_interleave(6)
    inputs = 2 * torch.randn(8, 16, generator=g)[labels] + torch.randn(48, 16, generator=g)
    net = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 8))
    loss_fn = PolarityTripletLoss(table)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    first = loss_fn(net(inputs), labels).item()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny ops: threads only add synchronisation on a loaded machine
    try:
        for _ in range(200):
            optimizer.zero_grad()
            loss = loss_fn(net(inputs), labels)
            loss.backward()
            optimizer.step()
    finally:
        torch.set_num_threads(threads)
    with torch.no_grad():
        x = F.normalize(net(inputs), dim=-1)
    assert loss.item() < 0.1 * first
    related = _mean_distance(x, labels, table, "related")
    opposite = _mean_distance(x, labels, table, "opposite")
    assert opposite > related + 0.2  # other polarities sit beyond the related classes
    # every sample's nearest other-class neighbour shares its polarity (neutral excepted)
    d = torch.cdist(x, x).masked_fill(labels[:, None] == labels[None, :], torch.inf)
    nearest = labels[d.argmin(1)]
    pol = torch.tensor(table)
    polar = pol[labels] != 0
    assert (pol[nearest][polar] == pol[labels][polar]).float().mean() > 0.95


def test_default_objective_is_cross_entropy_plus_polarity_triplet() -> None:
    model = emofuse.build("av_attention_fusion_tiny").train()
    out = model(**model.example_inputs(batch_size=6))
    labels = torch.tensor([2, 2, 1, 3, 4, 0])  # happy ×2, calm, sad, angry, neutral
    cross_entropy = F.cross_entropy(out.logits, labels)
    triplet = polarity_triplet_loss(out.embedding, labels, polarities(RAVDESS_8))
    assert triplet.item() > 0
    loss = AVAttentionFusionLoss(label_names=model.config.label_names)(out, labels)
    torch.testing.assert_close(loss, cross_entropy + triplet)
    half = AVAttentionFusionLoss(polarities(RAVDESS_8), triplet_weight=0.5)(out, labels)
    torch.testing.assert_close(half, cross_entropy + 0.5 * triplet)
    loss.backward()
    assert model.embedding.weight.grad is not None


def test_all_neutral_polarities_give_the_plain_triplet_loss() -> None:
    emb, labels = torch.randn(9, 4), torch.tensor([0, 0, 1, 1, 2, 2, 3, 3, 3])
    x = F.normalize(emb, dim=-1)
    d = torch.cdist(x, x).square()
    same = (labels[:, None] == labels[None, :]) & ~torch.eye(9, dtype=torch.bool)
    valid = same[:, :, None] & (labels[:, None, None] != labels[None, None, :])
    losses = (d[:, :, None] - d[:, None, :] + 0.2).clamp(min=0)[valid]
    want = losses.sum() / (losses > 0).sum()
    got = polarity_triplet_loss(emb, labels, (0, 0, 0, 0))
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)


def cubic_all_mining(emb, labels, table, alpha, beta, normalize=True):
    """emofuse 0.1's ``mining="all"``: one (B, B, B) tensor of every (anchor, closer, farther)
    gap. Kept as the reference of the O(B²) rewrite (issue #13.4)."""
    x = F.normalize(emb, dim=-1) if normalize else emb
    sq = x.square().sum(-1)
    dist = (sq[:, None] + sq[None, :] - 2 * x @ x.T).clamp(min=0)
    table = torch.as_tensor(table)
    shares = (table[:, None] == table[None, :]) & (table[:, None] != 0)
    polar = (shares.sum(1) > 1)[labels]
    pol = table[labels]
    eye = torch.eye(len(labels), dtype=torch.bool)
    same = (labels[:, None] == labels[None, :]) & ~eye
    other = labels[:, None] != labels[None, :]
    related = other & (pol[:, None] == pol[None, :]) & (pol[:, None] != 0)
    different_polarity = pol[:, None] != pol[None, :]
    kinds = (
        (~polar, same, other, alpha),
        (polar, same, related, alpha),
        (polar, related, different_polarity, beta),
    )
    total, count = dist.new_zeros(()), dist.new_zeros(())
    gaps = dist[:, :, None] - dist[:, None, :]
    for anchors, closer, farther, margin in kinds:
        closer, farther = closer & anchors[:, None], farther & anchors[:, None]
        valid = closer[:, :, None] & farther[:, None, :]
        losses = torch.where(valid, (gaps + margin).clamp(min=0), 0.0)
        count = count + (losses > 0).sum()
        total = total + losses.sum()
    return total / count.clamp(min=1)


def _value_and_gradient(fn, emb, *args, **kwargs):
    emb = emb.detach().clone().requires_grad_(True)
    value = fn(emb, *args, **kwargs)
    (grad,) = torch.autograd.grad(value, emb)
    return value, grad


@pytest.mark.parametrize("batch", [1, 2, 3, 8, 31, 64, 150])
def test_all_mining_equals_the_cubic_reference_in_float64(batch: int) -> None:
    g = torch.Generator().manual_seed(batch)
    table = polarities(RAVDESS_8)
    emb = torch.randn(batch, 6, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 8, (batch,), generator=g)
    for alpha, beta, normalize in [(0.2, 0.2, True), (0.5, 0.05, True), (1.0, 3.0, False)]:
        got, grad = _value_and_gradient(
            polarity_triplet_loss, emb, labels, table, alpha=alpha, beta=beta, normalize=normalize
        )
        want, want_grad = _value_and_gradient(
            cubic_all_mining, emb, labels, table, alpha, beta, normalize
        )
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(grad, want_grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("margins", [(0.0, 0.0), (1.0, 2.0), (2.0, 1.0)])
@pytest.mark.parametrize("seed", range(3))
def test_all_mining_equals_the_cubic_reference_with_ties(margins, seed: int) -> None:
    # small integer embeddings: many exactly equal distances, zero distances (duplicates) and
    # hinges exactly at 0 (d_ap + margin = d_an), all exact in float64. The reference counts a
    # hinge at exactly 0 as not positive but passes its gradient (clamp's rule); so must we.
    g = torch.Generator().manual_seed(seed)
    emb = torch.randint(-1, 2, (40, 3), generator=g).to(torch.float64)
    labels = torch.randint(0, 5, (40,), generator=g)
    table = (0, 1, 1, -1, -1)
    alpha, beta = margins
    got, grad = _value_and_gradient(
        polarity_triplet_loss, emb, labels, table, alpha=alpha, beta=beta, normalize=False
    )
    want, want_grad = _value_and_gradient(
        cubic_all_mining, emb, labels, table, alpha, beta, normalize=False
    )
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grad, want_grad, rtol=1e-10, atol=1e-12)


def test_all_mining_in_float32_stays_close_to_the_float64_reference() -> None:
    g = torch.Generator().manual_seed(0)
    emb = torch.randn(256, 16, generator=g)
    labels = torch.randint(0, 8, (256,), generator=g)
    table = polarities(RAVDESS_8)
    got, grad = _value_and_gradient(polarity_triplet_loss, emb, labels, table)
    want, want_grad = _value_and_gradient(cubic_all_mining, emb.double(), labels, table, 0.2, 0.2)
    torch.testing.assert_close(got.double(), want, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grad.double(), want_grad, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("module", [False, True])
@pytest.mark.parametrize("mining", ["all", "hard"])
def test_empty_batch_is_zero_with_a_zero_finite_gradient(mining: str, module: bool) -> None:
    # issue #11.8: mining="hard" crashed in amax over an empty batch
    emb = torch.zeros(0, 4, requires_grad=True)
    labels = torch.zeros(0, dtype=torch.long)
    if module:
        loss = PolarityTripletLoss(label_names=RAVDESS_8, mining=mining)(emb, labels)
    else:
        loss = polarity_triplet_loss(emb, labels, polarities(RAVDESS_8), mining=mining)
    loss.backward()
    assert loss.shape == () and loss.item() == 0.0
    assert emb.grad is not None and emb.grad.shape == (0, 4)


@pytest.mark.parametrize("mining", ["all", "hard"])
def test_runs_on_the_meta_device(mining: str) -> None:
    emb = torch.randn(6, 4, device="meta", requires_grad=True)
    labels = torch.zeros(6, dtype=torch.long, device="meta")
    loss = polarity_triplet_loss(emb, labels, polarities(RAVDESS_8), mining=mining)
    assert loss.device.type == "meta" and loss.shape == ()
    module = PolarityTripletLoss(label_names=RAVDESS_8, mining=mining).to("meta")
    assert module(emb, labels).device.type == "meta"
    empty = polarity_triplet_loss(emb[:0], labels[:0], polarities(RAVDESS_8), mining=mining)
    assert empty.device.type == "meta"


def test_labels_on_another_device_than_the_embeddings_are_refused() -> None:
    emb = torch.randn(4, 3, device="meta")
    with pytest.raises(ValueError, match="labels: expected them on the embeddings' device meta"):
        polarity_triplet_loss(emb, torch.tensor([0, 1, 1, 0]), (0, 1))


class _LargestTensor(TorchDispatchMode):
    """Records the most elements of any tensor an operator returns."""

    def __init__(self) -> None:
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for leaf in tree_leaves(out):
            if isinstance(leaf, torch.Tensor):
                self.largest = max(self.largest, leaf.numel())
        return out


@pytest.mark.parametrize("mining", ["all", "hard"])
def test_memory_grows_as_b_squared_not_b_cubed(mining: str) -> None:
    # issue #13.4: "all" built (B, B, B) tensors (B = 512: 35 s, GBs). Counted, not timed.
    batch = 96
    emb = torch.randn(batch, 8, requires_grad=True)
    labels = torch.arange(batch) % 8
    with _LargestTensor() as probe:
        polarity_triplet_loss(emb, labels, polarities(RAVDESS_8), mining=mining).backward()
    assert probe.largest <= 2 * batch * (batch + 1)
