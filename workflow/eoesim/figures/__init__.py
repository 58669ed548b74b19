"""Paper figures: one module per figure, all drawn in the style of :mod:`eoesim.figures.style`."""
