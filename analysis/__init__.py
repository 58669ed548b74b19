"""Surrogate fitting and paper figures (package eoesim.analysis, mapped from analysis/)."""
