"""EoE-CoSim: co-simulation harness for Ensemble-of-Experts LLM systems on chiplet hardware."""

__version__ = "0.1.0"
