"""Training and evaluation entry points: `python -m training.fit`, `training.evaluate`, `training.ablation`."""
