"""Training with saved checkpoints.

Import the submodule you need; this package imports nothing heavy itself:

* ``simfunc.train.supervised``: image classifiers trained with SGD, checkpoints at chosen
  epochs, resumable and bit-for-bit reproducible on the CPU (``TrainConfig``, ``train``,
  ``load_model``).
* ``simfunc.train.ppo``: PPO agents for the MiniGrid study (thesis §3.5), on stable-baselines3.
"""

from __future__ import annotations
