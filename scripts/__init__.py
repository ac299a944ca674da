"""Command-line entrypoints with the seed's names; each is also callable as a function (``run``)."""
