"""A callback that fires once the last of several things it waits for is done."""
from __future__ import annotations

from typing import Any, Callable


def after_all(count: int, then: Callable[..., Any], *args: Any) -> Callable[[], None]:
    """A callback to call once per thing waited for: its ``count``-th call calls ``then(*args)``."""
    left = [count]

    def one_done() -> None:
        left[0] -= 1
        if left[0] == 0:
            then(*args)

    return one_done
