"""A radio set whose keyboard highlight starts on the chosen button, and that wraps when narrow.

Textual's ``RadioSet`` puts its keyboard highlight on the first button when mounted, whatever is
pressed; a user who opens the settings with "Access token (PAT)" chosen and presses Right would
land two buttons away from where they expect.

Laid out in one row (the settings screen does that), the buttons would be cut off at the right
edge of a narrow terminal (at 80 columns "CLI profile" could not be seen); when one row cannot
hold them all, the set takes the ``-wrapped`` class and the stylesheet lays it out in two
columns instead.
"""

from __future__ import annotations

from textual import events
from textual.geometry import Size
from textual.widgets import RadioButton, RadioSet

__all__ = ["ChoiceSet"]


class ChoiceSet(RadioSet):
    """A ``RadioSet`` that highlights the pressed button when it gets focus, and wraps when narrow."""

    def on_focus(self) -> None:
        """Move the keyboard highlight to the pressed button."""
        if self.pressed_index >= 0:
            self._selected = self.pressed_index

    @property
    def row_width(self) -> int:
        """Cells the buttons take side by side, margins included."""
        width = 0
        for button in self.query_children(RadioButton):
            styles = button.styles
            content = button.get_content_width(Size(0, 0), Size(0, 0))
            width += content + styles.gutter.width + styles.margin.width
        return width

    def on_resize(self, event: events.Resize) -> None:
        """Wrap the buttons when one row is narrower than they are."""
        self.set_class(self.row_width > self.scrollable_content_region.width, "-wrapped")
