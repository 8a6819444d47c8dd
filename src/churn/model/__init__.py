"""The model: its pipeline, training, evaluation, registry, scoring and retraining."""
