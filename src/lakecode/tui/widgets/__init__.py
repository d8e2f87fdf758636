"""Widgets of the terminal UI: each shows something and posts messages; screens own workflows."""
