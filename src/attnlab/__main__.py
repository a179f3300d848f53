"""`python -m attnlab ...` is the same as the `attnlab` command (and is what torchrun launches)."""

from attnlab.cli import main

main()
