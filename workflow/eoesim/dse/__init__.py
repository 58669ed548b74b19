"""Design-space exploration: sampled sweeps, Pareto fronts and the refine step."""
