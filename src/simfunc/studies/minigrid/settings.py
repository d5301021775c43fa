"""The MiniGrid study's settings and profiles, and its names for runs, agents and cells.

:class:`Settings` holds every choice of a run (rooms, variants, seeds, how agents train and
are kept, the headline population, the Monte Carlo sizes); :data:`PROFILES` the three
profiles. Each field can be overridden (``--set seeds=0,1,2``, ``--set
training.n_envs=16``, ``--set population.suboptimal=keep``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from simfunc.errors import InputError
from simfunc.nets.actor_critic import NETWORKS
from simfunc.validation import check_bool, check_choice

__all__ = [
    "VARIANTS", "SUBOPTIMAL", "AgentTraining", "Population", "Settings", "PROFILES",
    "THESIS_TRAIN_SIZES", "cell_name", "run_name", "model_id", "check_settings",
]

VARIANTS = NETWORKS  # plain, bottleneck (§3.5.1), and bottleneck-hidden, -16, -tanh (not the thesis's)
SUBOPTIMAL = ("drop-unsolved-runs", "keep", "drop-mediocre")
THESIS_TRAIN_SIZES = (5, 6, 8, 16)  # §3.5: "We train agents on four grid sizes"


@dataclass(frozen=True)
class AgentTraining:
    """How every agent is trained and kept (the one place to change the training budget).

    save_steps: per training size, ``"SIZE:STEP/STEP/..."``, the environment steps at which
    each run is kept (the largest is its length); each a multiple of ``n_envs`` × 128, the
    steps of one PPO update (0 keeps the untrained agent). n_envs: PPO's parallel rooms (the
    other PPO settings are :class:`simfunc.train.ppo.PPOConfig`'s). eval_episodes: episodes of
    the training room that measure each kept agent's mean return, and so its quality.
    """

    save_steps: tuple[str, ...] = (
        "5:0/2048/16384", "6:0/4096/16384", "8:0/8192/24576", "16:0/8192/16384",
    )
    n_envs: int = 8
    eval_episodes: int = 8

    def schedule(self, train_sizes: Sequence[int]) -> dict[int, tuple[int, ...]]:
        """``save_steps`` parsed: training size -> sorted save points, for every training size.

        Raises InputError for a malformed entry, a size listed twice, a step that is not a
        multiple of the PPO update or a training size without save points.
        """
        from simfunc.train.ppo import PPOConfig

        schedule: dict[int, tuple[int, ...]] = {}
        for entry in self.save_steps:
            size_text, sep, steps_text = str(entry).partition(":")
            try:
                size = int(size_text)
                steps = tuple(sorted({int(step) for step in steps_text.split("/") if step.strip()}))
            except ValueError:
                steps = ()
            if not sep or not steps or min(steps) < 0 or max(steps) == 0:
                raise InputError(
                    f"save_steps entry {entry!r} is not 'SIZE:STEP/STEP/...' with steps >= 0 "
                    "and a positive last one (e.g. '5:0/2048/16384')")
            if size in schedule:
                raise InputError(f"save_steps lists size {size} twice")
            schedule[size] = steps
        rollout = PPOConfig(n_envs=self.n_envs).rollout_steps
        uneven = sorted({step for steps in schedule.values() for step in steps if step % rollout})
        if uneven:
            raise InputError(
                f"save_steps {', '.join(map(str, uneven))} are not multiples of n_envs × 128 = "
                f"{rollout}, the environment steps of one PPO update")
        missing = [size for size in train_sizes if size not in schedule]
        if missing:
            raise InputError(f"save_steps has no entry for training size(s) "
                             f"{', '.join(map(str, missing))}: add 'SIZE:STEP/STEP/...' for each")
        return schedule


@dataclass(frozen=True)
class Population:
    """Which of the compared pairs a relation is computed over.

    same_run_pairs: keep pairs of two save points of one training run (the thesis compares
    agents of different runs). suboptimal, by the thesis's return criterion: ``"drop-unsolved-
    runs"`` leaves out every save point of a run whose last save point is not optimal (the
    thesis ignores agents on sub-optimal paths: the run never found the optimal policy);
    ``"drop-mediocre"`` leaves out every mediocre agent (0.2 < R ≤ 0.8: one that reaches the
    goal by a longer path), the other reading; ``"keep"`` keeps every agent.
    """

    same_run_pairs: bool = False
    suboptimal: str = "drop-unsolved-runs"

    def __post_init__(self) -> None:
        check_bool(self.same_run_pairs, "population.same_run_pairs")
        check_choice(self.suboptimal, "population.suboptimal", SUBOPTIMAL)


@dataclass(frozen=True)
class Settings:
    """Settings of the MiniGrid study (every one can be overridden).

    train_sizes / test_sizes: Empty room sizes agents are trained / tested on. variants:
    networks (:data:`VARIANTS`). seeds: one training run per
    seed, size and variant. training: how each run trains and where it is kept
    (:class:`AgentTraining`). episodes: episodes each agent plays on each test room (episode i
    seeded rollout_seed + i); max_states: at most this many of an agent's visited states are
    kept (a uniform sample), so a pair is compared on at most twice as many. distinct_states:
    compare a pair on each distinct pooled state once instead of with its visit count.
    measures: the representational measures compared (None: every registered one; it must
    include linear_cka, the thesis's).
    population: the headline's pairs (:class:`Population`). n_permutations / n_resamples:
    permutation tests and bootstraps of the headline relations (and their contrasts).
    population_draws: permutations and resamples of each relation in the populations table
    beside the headline (context, never judged: fewer draws keep the analysis short).
    factors: also compare every pair with one factor changed at a time (other states, the
    64-d embedding, optimal actions; :mod:`~simfunc.studies.minigrid.factor_jobs`) for the
    bottleneck factor table (:mod:`~simfunc.studies.minigrid.factors`).
    """

    train_sizes: tuple[int, ...] = (5, 6, 8)
    test_sizes: tuple[int, ...] = (5, 6, 8)
    variants: tuple[str, ...] = ("plain", "bottleneck")
    seeds: tuple[int, ...] = (0, 1, 2, 3)
    training: AgentTraining = AgentTraining(
        save_steps=("5:0/2048/16384", "6:0/4096/20480", "8:0/8192/32768", "16:0/8192/16384"))
    episodes: int = 4
    max_states: int = 200
    distinct_states: bool = False
    measures: tuple[str, ...] | None = None
    rollout_seed: int = 1000
    population: Population = Population()
    n_permutations: int = 1_000
    n_resamples: int = 1_000
    population_draws: int = 500
    factors: bool = False


PROFILES = {
    # 4 seeds × 3 save points per cell (66 pairs, 54 of them across runs): four runs per
    # training size, so the network bootstrap (runs redrawn within each training size) has an
    # interval. Short runs that usually end optimal on 5×5, 6×6 and 8×8; no 16×16 room: its
    # runs stay poor at a quick budget (the thesis trained them to convergence), so the
    # headline, which keeps runs that end optimal, would have no 16×16 cell anyway. 60 jobs,
    # 1,188 pairs: measured 10 minutes cold with --jobs 2 on 2 cores shared with four other
    # engineers (load average 5-7; 16 minutes at 5-9), every run ending optimal in both
    # variants (seeds 0-3). Comparing a pair with every registered measure costs about 0.25 s
    # (linear CKA alone 3 ms), most of it in the three measures whose cost grows with the
    # square of the states (RSA's two dissimilarity matrices, RBF CKA's Gram matrices). Quick
    # still compares every measure: leaving those out of MiniGrid alone would rank them on
    # other pairs than the rest in the pooled leaderboard.
    "quick": Settings(),
    # 5 seeds × 6 save points per cell (435 pairs per cell), runs long enough to solve 5×5 to
    # 8×8 and usually 16×16 (benchmarks/ppo.py): at least 5 runs per training size, as the
    # network bootstrap needs for an interval (3 runs left 35% of its resamples defined).
    "standard": Settings(
        train_sizes=THESIS_TRAIN_SIZES,
        seeds=(0, 1, 2, 3, 4),
        training=AgentTraining(save_steps=(
            "5:0/2048/4096/8192/16384/32768",
            "6:0/2048/6144/10240/20480/49152",
            "8:0/4096/12288/16384/24576/65536",
            "16:0/65536/131072/229376/327680/491520",
        ), eval_episodes=32),
        episodes=10, max_states=500, n_permutations=10_000, n_resamples=10_000,
        population_draws=2_000, factors=True,
    ),
    # Thesis scale. The thesis trained with rl-starter-files (16 parallel rooms, 128 steps
    # each per update); it does not state how many seeds or checkpoints it used. Here: 16
    # rooms, 5 seeds × 9 save points per cell (990 pairs per cell), 16×16 trained to 1M steps.
    "paper": Settings(
        train_sizes=THESIS_TRAIN_SIZES,
        seeds=(0, 1, 2, 3, 4),
        training=AgentTraining(save_steps=(
            "5:0/2048/4096/6144/8192/12288/16384/32768/65536",
            "6:0/2048/4096/8192/12288/16384/24576/49152/98304",
            "8:0/4096/8192/12288/16384/24576/32768/65536/131072",
            "16:0/65536/131072/196608/262144/393216/524288/786432/1048576",
        ), n_envs=16, eval_episodes=64),
        episodes=20, max_states=500, n_permutations=10_000, n_resamples=10_000,
        population_draws=10_000, factors=True,
    ),
}


def cell_name(variant: str, size: int) -> str:
    return f"{variant}-{size}x{size}"


def run_name(variant: str, size: int, seed: int) -> str:
    """The study's name of a training run: ``plain-5x5-s0``."""
    return f"{cell_name(variant, size)}-s{seed}"


def model_id(variant: str, size: int, seed: int, timesteps: int) -> str:
    """The study's name of an agent: ``plain-5x5-s0-t16384``."""
    return f"{run_name(variant, size, seed)}-t{timesteps}"


def check_settings(settings: Settings) -> None:
    """Raise InputError for a room size, variant or list the study cannot run."""
    from simfunc.envs import check_size

    for size in settings.train_sizes:
        check_size(size, "train_sizes entries")
    for size in settings.test_sizes:
        check_size(size, "test_sizes entries")
    for variant in settings.variants:
        check_choice(variant, "variants entries", VARIANTS)
    if settings.measures is not None and "linear_cka" not in settings.measures:
        raise InputError("measures must include linear_cka: the study's finding is read "
                         f"from it, got {settings.measures!r}")
    check_bool(settings.factors, "factors")
    for name in ("n_permutations", "n_resamples", "population_draws"):
        value = getattr(settings, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"{name} must be a positive integer, got {value!r}")
    for name in ("train_sizes", "test_sizes", "variants", "seeds"):
        values = getattr(settings, name)
        if not values or len(set(values)) != len(values):
            raise InputError(f"{name} must list at least one value, each once, got {values!r}")
