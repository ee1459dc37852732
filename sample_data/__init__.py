"""The sample ecosystem: a deterministic, calibrated history (`generate`) and a live event source
(`sample_data.live.EventStream`) that continues it. Imports neither duckdb nor textual."""

from ecotop.sample_data.generator import generate

__all__ = ["generate"]
