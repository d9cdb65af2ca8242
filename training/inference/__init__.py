"""What the service imports of ``training``: the model directory's format (``artifact``), the
labelled-data layout (``layout``), loading a model and scoring with it (``predictor``; an
encoder model's scoring in ``encoder``, the one module that loads torch and transformers), the
device (``device``), applying a calibration (``calibration``) and a second stage
(``second_stage``), and explaining a score (``explain``).

Imports nothing of ``training`` outside this package: the fitting side (``training.train``,
``training.methods``, ``training.calibrate``, ``training.stack`` ...) imports it, never the other
way round, so serving a model never loads a trainer.
"""
