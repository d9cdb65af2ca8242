"""The one place that knows how to load a model directory and score text with it."""
