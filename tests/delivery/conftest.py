"""The delivery tests' fixture: the pipeline, the print dispatcher and a clock, in one process."""

from tests.support.posting import post

__all__ = ["post"]
