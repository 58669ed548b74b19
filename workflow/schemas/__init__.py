"""Study, site and simulator-parameter schemas, shipped as package data ``eoesim.schemas``."""
