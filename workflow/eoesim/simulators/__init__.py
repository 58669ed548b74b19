"""Simulator adapters, one module each; base.ADAPTER_MODULES lists them for the registry."""
