"""Training: the one loop (trainer.py), checkpoints (checkpoint.py), schedules, progress, distribution."""
