"""The Ensemble-of-Experts workload model: experts, routers, composition, morphologies, mapping."""
