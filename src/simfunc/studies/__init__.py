"""The studies of Yellapragada's thesis, each a package that reads like its section.

A study is a :class:`~simfunc.studies.base.Study` (settings, profiles, plan, analysis; see
:mod:`simfunc.studies.base`). ``run_study(name, profile)`` runs one and ``rebuild_study(run_dir)``
redoes a run's analysis from its results database (:mod:`simfunc.studies.framework`); the
shared jobs of the image-classifier studies are :mod:`simfunc.studies.classifier_jobs`.
Running them all into one report is :func:`simfunc.reproduce.reproduce`.
"""

from simfunc.studies.base import AnalysisContext, Selection, Study, StudyOutput
from simfunc.studies.framework import STUDIES, load_study, rebuild_study, run_study

__all__ = [
    "STUDIES",
    "Study",
    "Selection",
    "AnalysisContext",
    "StudyOutput",
    "load_study",
    "run_study",
    "rebuild_study",
]
