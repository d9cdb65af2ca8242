"""Training: labelled papers in, a model directory the service can serve out.

A library: it reads labelled rows and writes model directories, and never touches the service's
database or settings. Importing the package loads nothing heavy; import what you use from its
modules: ``training.train.train``, ``training.config.TrainConfig``,
``training.inference.layout.load_labelled_csv``, ``training.inference.predictor.load_predictor``.
"""
