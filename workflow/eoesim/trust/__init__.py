"""Sanity checks over parsed simulator tables: physical bounds, non-moving metrics, echoed configuration."""
