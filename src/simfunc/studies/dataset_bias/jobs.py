"""The dataset-bias study's one job of its own: a linear SVM over the representation sets.

Everything before it (training the six networks, extracting their last-convolution features
on the three test sets) is the shared image-classifier jobs
(:mod:`simfunc.studies.classifier_jobs`). :func:`classify_representations` reads the 18 sets
of features, holds out the same example rows of every set, fits a one-vs-rest linear SVM on
the standardised features of the rest, and writes every held-out row's 18 predictions (and a
t-SNE embedding per test set); :func:`record_svm` stores them in the results database, where
:func:`error_kinds` sorts each held-out row's mistakes into the study's three kinds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from simfunc.io import atomic_write_json, load_json
from simfunc.runner import Job, JobContext
from simfunc.store import ResultsDB
from simfunc.studies.classifier_jobs import load_features

__all__ = [
    "RESULT_FILE",
    "KERNEL_SVM_LIMIT",
    "linear_svm",
    "classify_representations",
    "error_kinds",
    "confusion_shares",
    "record_svm",
]

RESULT_FILE = "svm.json"
KERNEL_SVM_LIMIT = 20_000  # training examples up to which the dual (kernel) solver is used
ERROR_KINDS = ("same_network", "same_test_set", "neither")


def _equal_rows(arrays: list[np.ndarray]) -> list[np.ndarray]:
    """Truncate every set to the smallest set's number of examples (same examples, same order)."""
    n = min(len(a) for a in arrays)
    return [a[:n] for a in arrays]


def linear_svm(n_train: int, C: float, seed: int) -> Any:
    """A one-vs-rest linear SVM (hinge loss, L2 penalty ``C``), by the faster solver.

    Up to ``KERNEL_SVM_LIMIT`` training examples: one libsvm problem per class on the linear
    kernel (the dual; its cost grows with examples, not features — 2 s where liblinear's
    primal-dual coordinate descent took 70 s on 1,620 x 2,048 standardised features). Beyond
    that (the paper profile: 18 x 2,900 examples): liblinear's primal solver, whose cost grows
    with features, on the squared hinge loss.
    """
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.svm import SVC, LinearSVC

    if n_train <= KERNEL_SVM_LIMIT:
        return OneVsRestClassifier(SVC(kernel="linear", C=C))
    return LinearSVC(C=C, dual=False, random_state=seed)


def _tsne(sets: list[np.ndarray], group: Sequence[int], points: int, rng: np.random.Generator,
          seed: int) -> dict[str, Any]:
    """t-SNE of ``points`` examples of each set in ``group`` (one test set, every network)."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    from sklearn.preprocessing import StandardScaler

    chosen = np.sort(rng.choice(len(sets[0]), size=points, replace=False))
    stacked = StandardScaler().fit_transform(np.concatenate([sets[i][chosen] for i in group]))
    components = min(50, stacked.shape[1], stacked.shape[0] - 1)
    reduced = PCA(n_components=components, random_state=seed).fit_transform(stacked)
    perplexity = float(min(30.0, (len(reduced) - 1) / 3))
    xy = TSNE(n_components=2, perplexity=perplexity, init="pca",
              random_state=seed).fit_transform(reduced)
    return {"sets": list(group), "points_per_set": int(points),
            "x": xy[:, 0].tolist(), "y": xy[:, 1].tolist()}


def classify_representations(ctx: JobContext) -> None:
    """Job: the linear SVM over the representation sets (one per dependency, in order) and a
    t-SNE per test set (``config["groups"]``: the sets of each test set).

    Every set holds the same test images in the same order (one test set, several networks)
    or as many images of another test set; the held-out rows (``holdout`` of them, drawn with
    ``default_rng(seed).permutation``) are the same in every set. Writes ``svm.json``:
    ``predicted`` (held-out rows x sets: the set the SVM assigns each held-out feature vector
    to), ``counts`` (the confusion matrix) and the t-SNE embeddings.
    """
    from sklearn.preprocessing import StandardScaler

    config = ctx.config
    layer = config["layer"]
    sets = _equal_rows([load_features(ctx.input(dep))[layer].astype(np.float64)
                        for dep in ctx.job.deps])
    n = len(sets[0])
    rng = np.random.default_rng(config["seed"])
    order = rng.permutation(n)
    n_test = max(1, int(round(config["holdout"] * n)))
    test_rows, train_rows = np.sort(order[:n_test]), np.sort(order[n_test:])
    X_train = np.concatenate([s[train_rows] for s in sets])
    y_train = np.repeat(np.arange(len(sets)), len(train_rows))
    X_test = np.concatenate([s[test_rows] for s in sets])
    scaler = StandardScaler().fit(X_train)
    ctx.log(f"SVM on {X_train.shape[0]} examples x {X_train.shape[1]} features, {len(sets)} classes")
    svm = linear_svm(len(X_train), config["svm_c"], config["seed"])
    svm.fit(scaler.transform(X_train), y_train)
    predicted = svm.predict(scaler.transform(X_test)).reshape(len(sets), n_test).T
    counts = np.zeros((len(sets), len(sets)), dtype=np.int64)
    np.add.at(counts, (np.tile(np.arange(len(sets)), (n_test, 1)), predicted), 1)
    points = min(config["tsne_points"], n)
    embeddings = [_tsne(sets, group, points, rng, config["seed"]) for group in config["groups"]]
    atomic_write_json(ctx.output_dir / RESULT_FILE, {
        "predicted": predicted.tolist(), "counts": counts.tolist(),
        "n_train_per_set": int(len(train_rows)), "n_test_per_set": int(n_test),
        "features": int(X_train.shape[1]), "tsne": embeddings,
    })


def error_kinds(predicted: Any, test_sets: Sequence[str], networks: Sequence[str]
                ) -> dict[str, np.ndarray]:
    """Each held-out row's mistakes, by kind.

    ``predicted[i, s]``: the set the SVM assigned row i of set s to; set s is network
    ``networks[s]`` shown test set ``test_sets[s]``. Returns per-row counts: ``errors`` (the
    row's misassigned sets), ``same_network`` (assigned to the same network shown another
    test set), ``same_test_set`` (another network shown the same test set), ``neither``.
    """
    predicted = np.asarray(predicted, dtype=np.int64)
    nets, tests = np.asarray(networks), np.asarray(test_sets)
    true = np.arange(predicted.shape[1])[None, :]
    wrong = predicted != true
    keeps_network = nets[predicted] == nets[true]
    keeps_test_set = tests[predicted] == tests[true]
    return {
        "errors": wrong.sum(axis=1),
        "same_network": (wrong & keeps_network).sum(axis=1),
        "same_test_set": (wrong & keeps_test_set).sum(axis=1),
        "neither": (wrong & ~keeps_network & ~keeps_test_set).sum(axis=1),
    }


def confusion_shares(kinds: dict[str, np.ndarray]) -> dict[str, float]:
    """Of all the mistakes in ``kinds`` (from :func:`error_kinds`), the share of each kind;
    all 0 when there is none."""
    total = float(kinds["errors"].sum())
    shares = {kind: float(kinds[kind].sum() / total) if total else 0.0 for kind in ERROR_KINDS}
    return {"errors": total, **shares}


def record_svm(entry: Path, db: ResultsDB, job: Job) -> None:
    """The SVM's accuracy, its predictions and the shares of its mistakes, and the t-SNE
    embeddings, as the study's scalars (study name and set labels from ``job.meta``)."""
    result = load_json(Path(entry) / RESULT_FILE)
    study, sets = job.meta["study"], job.meta["sets"]
    predicted = np.asarray(result["predicted"])
    shares = confusion_shares(error_kinds(predicted, [s["test_set"] for s in sets],
                                          [s["network"] for s in sets]))
    extra = {"labels": [s["label"] for s in sets], "test_sets": [s["test_set"] for s in sets],
             "networks": [s["network"] for s in sets], "counts": result["counts"],
             "predicted": result["predicted"], "n_train_per_set": result["n_train_per_set"],
             "n_test_per_set": result["n_test_per_set"], "features": result["features"]}
    accuracy = float(np.mean(predicted == np.arange(predicted.shape[1])[None, :]))
    db.add_scalar(study, "svm_accuracy", accuracy, extra=extra)
    for kind in ERROR_KINDS:
        db.add_scalar(study, f"confusions_{kind}", shares[kind])
    for embedding in result["tsne"]:
        test_set = sets[embedding["sets"][0]]["test_set"]
        db.add_scalar(study, f"tsne_{test_set}", float(embedding["points_per_set"]), extra={
            "x": embedding["x"], "y": embedding["y"],
            "networks": [sets[i]["network"] for i in embedding["sets"]]})
