"""Tests of the benchmarks' own machinery: generated inputs and figures, never timings."""
