"""A radio set whose keyboard highlight starts on the chosen button.

Textual's ``RadioSet`` puts its keyboard highlight on the first button when mounted, whatever is
pressed; a user who opens the settings with "Access token (PAT)" chosen and presses Right would
land two buttons away from where they expect.
"""

from __future__ import annotations

from textual.widgets import RadioSet

__all__ = ["ChoiceSet"]


class ChoiceSet(RadioSet):
    """A ``RadioSet`` that highlights the pressed button when it gets focus."""

    def on_focus(self) -> None:
        """Move the keyboard highlight to the pressed button."""
        if self.pressed_index >= 0:
            self._selected = self.pressed_index
