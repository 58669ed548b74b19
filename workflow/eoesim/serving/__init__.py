"""The event-driven serving engine: model instances with iteration-level schedulers on the modelled package."""
