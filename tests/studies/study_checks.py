"""Independent recomputation of a stored pair, shared by the study tests and the planted-fault
tests: the two networks loaded from the cache (final weights, or a checkpoint's), run on the
split the study claims to compare on, their features and logits compared by the measures
themselves — nothing from the study's own extraction or comparison code."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from simfunc import functional, representational

__all__ = ["stored_pair", "recomputed_pair", "mismatches", "thesis_text", "THESIS_FILE",
           "summary_reads_back"]

THESIS_FILE = "000_11b88272dc462004.txt"


def thesis_text() -> str | None:
    """The thesis's full text: $SIMFUNC_THESIS_TEXT, else shared/seed/ in a folder above the
    repository (where the project keeps it, ../shared in CI); None when neither exists."""
    import os

    named = os.environ.get("SIMFUNC_THESIS_TEXT")
    if named:
        return Path(named).read_text(encoding="utf-8")
    for folder in Path(__file__).resolve().parents:
        candidate = folder / "shared" / "seed" / THESIS_FILE
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8")
    return None

MEASURES = ("linear_cka", "jsd", "spearman")


def stored_pair(run_dir: Path, pair: tuple[str, str], layer: str = "features") -> dict[str, float]:
    """What the study stored for ``pair`` (either order): CKA at ``layer``, and the output
    measures."""
    with sqlite3.connect(Path(run_dir) / "results.sqlite") as connection:
        return dict(connection.execute(
            "SELECT measure, value FROM pairs WHERE ((model_a = ? AND model_b = ?) OR "
            "(model_b = ? AND model_a = ?)) AND ((layer = ? AND measure = 'linear_cka') "
            "OR layer = 'output')", (*pair, *pair, layer)).fetchall())


def recomputed_pair(run_dir: Path, cache: Path, pair: tuple[str, str], *, dataset: str = "digits",
                    split: str = "test", layer: str = "features") -> dict[str, float]:
    """The pair's CKA at ``layer`` and output measures, from scratch."""
    from simfunc.data import load
    from simfunc.extract import activations
    from simfunc.train.supervised import load_model

    with sqlite3.connect(Path(run_dir) / "results.sqlite") as connection:
        models = {m: (artifact, trained, epoch, kind) for m, artifact, trained, epoch, kind in
                  connection.execute("SELECT model_id, artifact, trained, epoch, kind FROM models")}
    acts = []
    for model_id in pair:
        artifact, trained, epoch, kind = models[model_id]
        checkpoint = 0 if not trained else (epoch if kind == "checkpoint" else None)
        network = load_model(Path(cache) / artifact, epoch=checkpoint)
        data = load(dataset, split, image_size=network.input_size, channels=network.in_channels)
        acts.append(activations(network, data, [layer, "logits"]))
    a, b = acts
    out = {"linear_cka": representational.linear_cka(a[layer], b[layer])}
    for name in ("jsd", "spearman"):
        out[name] = functional.OUTPUT_MEASURES[name](a["logits"], b["logits"], from_logits=True)
    return out


def mismatches(stored: dict[str, float], recomputed: dict[str, float],
               tolerance: float = 1e-5) -> list[str]:
    """The measures whose stored value differs from the recomputed one (or is missing)."""
    return [f"{name}: stored {stored.get(name)!r}, recomputed {recomputed[name]!r}"
            for name in MEASURES
            if stored.get(name) is None or abs(stored[name] - recomputed[name]) > tolerance]


def summary_reads_back(result) -> bool:
    """Whether a study run's summary.json, as written, is its typed result: the study's
    ``RESULT`` read from the file (the framework's fields aside) equals ``result.result``, and
    the file carries the schema."""
    import json

    from simfunc.scorecard import SCHEMA
    from simfunc.studies import load_study
    from simfunc.studies.serialise import from_json

    written = json.loads((Path(result.run_dir) / "summary.json").read_text(encoding="utf-8"))
    assert written["schema"] == SCHEMA and written["study"] == result.name
    fields = {k: v for k, v in written.items() if k not in ("schema", "study", "profile")}
    return from_json(load_study(result.name).RESULT, fields) == result.result


def saved_agent(root: Path, run_dir: Path, model_id: str):
    """A MiniGrid run's saved agent ``model_id``, loaded from the run's cache (``root/cache``),
    and its index among its cell's agents (what the rollouts' state samples are seeded by)."""
    from simfunc.train.ppo import agent_path, load_agent

    with sqlite3.connect(run_dir / "results.sqlite") as connection:
        artifact, epoch = connection.execute(
            "SELECT artifact, epoch FROM models WHERE model_id = ?", (model_id,)).fetchone()
        cell = model_id.rsplit("-s", 1)[0] + "-s%"
        ids = [row[0] for row in connection.execute(
            "SELECT model_id FROM models WHERE model_id LIKE ? ORDER BY seed, epoch", (cell,))]
    return load_agent(agent_path(root / "cache" / artifact, epoch)), ids.index(model_id)


def played_states(agent, index: int, test_size: int, episodes: int, seed: int = 1000,
                  max_states: int = 200):
    """The states a MiniGrid agent is compared on, rebuilt as the study documents them: the
    agent plays ``episodes`` episodes of the test room (episode i seeded ``seed + i``), and when
    it visited more than ``max_states`` states a uniform sample of them is kept, in visiting
    order, drawn with ``default_rng([seed, index])`` (``index``: the agent's among its cell's)."""
    import numpy as np

    from simfunc.envs import collect_states

    states, _ = collect_states(agent, test_size, episodes, seed=seed)
    if len(states) > max_states:
        keep = np.random.default_rng([seed, index]).choice(len(states), max_states,
                                                           replace=False)
        states = states[np.sort(keep)]
    return states
