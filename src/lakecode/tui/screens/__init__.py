"""Screens of the terminal UI: each owns a workflow (chat, settings, model picker, resume, help)."""
