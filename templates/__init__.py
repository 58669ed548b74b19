"""Simulator input templates (one folder per simulator), shipped as package data ``eoesim.templates``."""
