"""Fixtures for the classic (non-neural) tests: a seeded, shuffled slice of the real IMDB train split."""

import pandas as pd
import pytest


@pytest.fixture(scope="session")
def imdb_sample(data_root) -> list[tuple[str, int]]:
    """2,500 shuffled (review, 0/1) pairs from imdb/train.csv (the file lists all negatives first)."""
    df = pd.read_csv(data_root / "imdb" / "train.csv")
    df = df.sample(n=2500, random_state=0)
    return [(r, int(s == "positive")) for r, s in zip(df["review"], df["sentiment"], strict=True)]


@pytest.fixture(scope="session")
def train_slice(imdb_sample) -> list[tuple[str, int]]:
    return imdb_sample[:2000]


@pytest.fixture(scope="session")
def held_slice(imdb_sample) -> list[tuple[str, int]]:
    return imdb_sample[2000:]
