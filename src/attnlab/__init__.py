"""attnlab: attention-based sequence models you can train, evaluate, inspect and use on a laptop CPU."""

__version__ = "0.1.0"
