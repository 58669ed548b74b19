"""Fixtures of the unit tests."""
import pytest
from figure_artists import capture_figures


@pytest.fixture
def drawn(monkeypatch):
    """Every figure the code under test closes (``style.save_figure`` closes what it saved)."""
    return capture_figures(monkeypatch)
