"""Lowering EoE requests to ops, scheduling them on contended resources, energy and timelines."""
