"""The studies of Yellapragada's thesis, each a module that reads like its section.

``run_study(name, profile)`` runs one; ``reproduce(profile)`` runs them all and writes one
report; ``rebuild(run_dir)`` redoes a run's analysis from its results database. See
:mod:`simfunc.studies.framework` for what a study module defines.
"""

from simfunc.studies.framework import STUDIES, rebuild, reproduce, run_study

__all__ = ["STUDIES", "run_study", "reproduce", "rebuild"]
