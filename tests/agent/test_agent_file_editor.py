"""The file_editor tool: view, create, str_replace, insert, undo, path safety and validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lakecode.agent.tools import FileEditorTool, ProjectScope, ToolArgumentError


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return root


@pytest.fixture
def editor(project: Path) -> FileEditorTool:
    return FileEditorTool(ProjectScope.at(project))


async def call(editor: FileEditorTool, **args: Any) -> tuple[str, bool]:
    editor.check(args)
    result = await editor.run(args)
    return result.content, result.is_error


def refused(editor: FileEditorTool, **args: Any) -> str:
    with pytest.raises(ToolArgumentError) as info:
        editor.check(args)
    return info.value.message


# ---- view ---------------------------------------------------------------------------------------


async def test_view_numbers_lines_and_honours_ranges(editor: FileEditorTool, project: Path) -> None:
    (project / "a.txt").write_text("one\ntwo\nthree\nfour\n")
    assert await call(editor, command="view", path="a.txt") == (
        "     1\tone\n     2\ttwo\n     3\tthree\n     4\tfour", False)
    assert await call(editor, command="view", path="a.txt", view_range=[2, 3]) == (
        "     2\ttwo\n     3\tthree\n[showing lines 2-3 of 4. Use view_range to see other lines.]", False)
    assert await call(editor, command="view", path="a.txt", view_range=[3, -1]) == (
        "     3\tthree\n     4\tfour\n[showing lines 3-4 of 4.]", False)
    text, failed = await call(editor, command="view", path="a.txt", view_range=[9, 12])
    assert failed and text == "view_range starts at line 9 but a.txt has 4 lines"
    text, failed = await call(editor, command="view", path="a.txt", view_range=[3, 2])
    assert failed and text.startswith("invalid view_range [3, 2]")


async def test_view_of_a_huge_file_shows_the_start_and_says_how_to_see_more(project: Path) -> None:
    editor = FileEditorTool(ProjectScope.at(project), max_view_lines=100)
    (project / "big.txt").write_text("".join(f"line {i}\n" for i in range(1, 5001)))
    text, failed = await call(editor, command="view", path="big.txt")
    lines = text.splitlines()
    assert not failed and len(lines) == 101
    assert lines[99] == "   100\tline 100"
    assert lines[100] == "[showing lines 1-100 of 5000. Use view_range to see other lines.]"
    text, _ = await call(editor, command="view", path="big.txt", view_range=[4999, 5000])
    assert text.splitlines()[:2] == ["  4999\tline 4999", "  5000\tline 5000"]


async def test_view_output_is_bounded_by_characters(project: Path) -> None:
    editor = FileEditorTool(ProjectScope.at(project), max_view_chars=1000)
    (project / "wide.txt").write_text(("x" * 300 + "\n") * 50)
    text, _ = await call(editor, command="view", path="wide.txt")
    assert len(text) < 1200
    assert text.splitlines()[-1].startswith("[showing lines 1-3 of 50.")


async def test_view_directory_is_a_shallow_listing(editor: FileEditorTool, project: Path) -> None:
    (project / "src" / "deep").mkdir(parents=True)
    (project / "src" / "deep" / "hidden.py").write_text("")
    (project / "README.md").write_text("hi")
    assert await call(editor, command="view", path=".") == ("./ (2 entries)\nsrc/\nREADME.md", False)
    assert await call(editor, command="view", path="src") == ("src/ (1 entries)\ndeep/", False)


async def test_binary_files_are_refused(editor: FileEditorTool, project: Path) -> None:
    (project / "img.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    text, failed = await call(editor, command="view", path="img.png")
    assert failed and text == "img.png looks like a binary file (16 bytes); it cannot be shown as text"
    text, failed = await call(editor, command="str_replace", path="img.png", old_str="PNG", new_str="x")
    assert failed and text == "img.png looks like a binary file; refusing to edit it"


async def test_non_utf8_text_is_viewable_but_not_editable(editor: FileEditorTool, project: Path) -> None:
    (project / "latin1.txt").write_bytes("café\n".encode("latin-1"))
    text, failed = await call(editor, command="view", path="latin1.txt")
    assert not failed and text.splitlines()[0] == "     1\tcaf\ufffd"
    assert "not valid UTF-8" in text
    text, failed = await call(editor, command="str_replace", path="latin1.txt", old_str="caf", new_str="x")
    assert failed and "is not valid UTF-8 text; refusing to edit it" in text
    assert (project / "latin1.txt").read_bytes() == "café\n".encode("latin-1")


async def test_view_missing_path(editor: FileEditorTool) -> None:
    assert await call(editor, command="view", path="nope.txt") == (
        "no such file or directory: nope.txt", True)


# ---- create ------------------------------------------------------------------------------------


async def test_create_makes_parents_and_refuses_unseen_existing_files(editor: FileEditorTool,
                                                                       project: Path) -> None:
    assert await call(editor, command="create", path="pkg/mod.py", file_text="x = 1\n") == (
        "created pkg/mod.py (1 lines)", False)
    assert (project / "pkg" / "mod.py").read_text() == "x = 1\n"
    # written by the editor itself: it knows the content, so overwriting is allowed
    assert await call(editor, command="create", path="pkg/mod.py", file_text="x = 2\ny = 3\n") == (
        "overwrote pkg/mod.py (2 lines, was 1)", False)

    (project / "other.py").write_text("keep me\n")
    text, failed = await call(editor, command="create", path="other.py", file_text="clobber")
    assert failed and text.startswith("other.py already exists (1 lines) and has not been viewed")
    assert (project / "other.py").read_text() == "keep me\n"
    await call(editor, command="view", path="other.py")
    assert await call(editor, command="create", path="other.py", file_text="new\n") == (
        "overwrote other.py (1 lines, was 1)", False)
    # changed on disk after the view: refused again
    (project / "other.py").write_text("changed elsewhere\n")
    _, failed = await call(editor, command="create", path="other.py", file_text="again\n")
    assert failed


async def test_create_over_an_empty_file_is_fine(editor: FileEditorTool, project: Path) -> None:
    (project / "empty.py").write_text("")
    assert await call(editor, command="create", path="empty.py", file_text="a\n") == (
        "overwrote empty.py (1 lines, was 0)", False)


# ---- str_replace -------------------------------------------------------------------------------


async def test_str_replace_unique_match_shows_a_snippet(editor: FileEditorTool, project: Path) -> None:
    (project / "m.py").write_text("def f():\n    return 1\n")
    text, failed = await call(editor, command="str_replace", path="m.py", old_str="return 1",
                              new_str="return 2")
    assert not failed
    assert text == "edited m.py:\n     1\tdef f():\n     2\t    return 2"
    assert (project / "m.py").read_text() == "def f():\n    return 2\n"


async def test_str_replace_errors_name_the_lines(editor: FileEditorTool, project: Path) -> None:
    (project / "m.py").write_text("x = 1\ny = 2\nx = 1\nz = 3\nx = 1\n")
    text, failed = await call(editor, command="str_replace", path="m.py", old_str="x = 1", new_str="x = 9")
    assert failed
    assert text == ("old_str occurs 3 times in m.py (at lines 1, 3, 5); include more surrounding lines "
                    "in old_str so that it matches exactly once")
    text, failed = await call(editor, command="str_replace", path="m.py", old_str="w = 0", new_str="")
    assert failed and text.startswith("no match for old_str in m.py. The text must match exactly")
    (project / "ind.py").write_text("if x:\n        go()\n")
    text, _ = await call(editor, command="str_replace", path="ind.py", old_str="if x:\n    go()", new_str="")
    assert "Lines 1-2 match when indentation and surrounding whitespace are ignored" in text
    assert (project / "m.py").read_text() == "x = 1\ny = 2\nx = 1\nz = 3\nx = 1\n"


async def test_str_replace_without_new_str_deletes(editor: FileEditorTool, project: Path) -> None:
    (project / "d.txt").write_text("keep\ndrop me\nkeep\n")
    _, failed = await call(editor, command="str_replace", path="d.txt", old_str="drop me\n")
    assert not failed and (project / "d.txt").read_text() == "keep\nkeep\n"


async def test_str_replace_in_a_crlf_file_keeps_crlf(editor: FileEditorTool, project: Path) -> None:
    (project / "w.txt").write_bytes(b"alpha\r\nbeta\r\ngamma\r\n")
    _, failed = await call(editor, command="str_replace", path="w.txt", old_str="alpha\nbeta", new_str="a\nb")
    assert not failed
    assert (project / "w.txt").read_bytes() == b"a\r\nb\r\ngamma\r\n"


async def test_str_replace_same_text_and_missing_file(editor: FileEditorTool, project: Path) -> None:
    (project / "s.txt").write_text("same\n")
    assert await call(editor, command="str_replace", path="s.txt", old_str="same", new_str="same") == (
        "old_str and new_str are the same; nothing would change", True)
    assert await call(editor, command="str_replace", path="no.txt", old_str="a", new_str="b") == (
        "no such file: no.txt (use the create command to make a new file)", True)


# ---- insert and undo ---------------------------------------------------------------------------


async def test_insert_at_top_middle_and_end(editor: FileEditorTool, project: Path) -> None:
    f = project / "i.txt"
    f.write_text("a\nb")  # no final newline
    await call(editor, command="insert", path="i.txt", insert_line=0, new_str="top")
    await call(editor, command="insert", path="i.txt", insert_line=2, new_str="mid\nmid2\n")
    text, _ = await call(editor, command="insert", path="i.txt", insert_line=5, new_str="end")
    assert f.read_text() == "top\na\nmid\nmid2\nb\nend\n"
    assert text.startswith("inserted 1 lines into i.txt after line 5:")
    text, failed = await call(editor, command="insert", path="i.txt", insert_line=99, new_str="x")
    assert failed and text == ("insert_line 99 is out of range: i.txt has 6 lines "
                               "(use 0 to insert at the top, 6 to append)")


async def test_undo_reverts_edits_one_by_one_and_creation(editor: FileEditorTool, project: Path) -> None:
    f = project / "u.txt"
    await call(editor, command="create", path="u.txt", file_text="v1\n")
    await call(editor, command="str_replace", path="u.txt", old_str="v1", new_str="v2")
    await call(editor, command="insert", path="u.txt", insert_line=1, new_str="v3")
    assert f.read_text() == "v2\nv3\n"
    assert await call(editor, command="undo_edit", path="u.txt") == (
        "reverted the last edit to u.txt (1 lines)", False)
    assert f.read_text() == "v2\n"
    await call(editor, command="undo_edit", path="u.txt")
    assert f.read_text() == "v1\n"
    assert await call(editor, command="undo_edit", path="u.txt") == (
        "undid the creation of u.txt (the file was removed)", False)
    assert not f.exists()
    assert await call(editor, command="undo_edit", path="u.txt") == ("no edit to undo for u.txt", True)


# ---- paths and validation ----------------------------------------------------------------------


def test_paths_outside_the_project_are_refused(editor: FileEditorTool, project: Path, tmp_path: Path) -> None:
    msg = refused(editor, command="view", path="../../etc/passwd")
    assert msg == (f"file_editor: ../../etc/passwd resolves to {tmp_path.parent.resolve()}/etc/passwd, "
                   f"which is outside the project directory {project.resolve()}; only files inside "
                   "the project can be used")
    deep = "../" * 30 + "etc/passwd"
    assert refused(editor, command="view", path=deep).startswith(
        f"file_editor: {deep} resolves to /etc/passwd")
    assert refused(editor, command="view", path="/etc/passwd").startswith("file_editor: /etc/passwd resolves")
    (tmp_path / "secret.txt").write_text("s")
    (project / "link.txt").symlink_to(tmp_path / "secret.txt")
    assert "outside the project" in refused(editor, command="view", path="link.txt")
    (project / "linkdir").symlink_to(tmp_path)
    assert "outside the project" in refused(editor, command="create", path="linkdir/x.py", file_text="")


def test_absolute_paths_inside_and_the_allow_outside_scope(project: Path, tmp_path: Path) -> None:
    editor = FileEditorTool(ProjectScope.at(project))
    access = editor.check({"command": "view", "path": str(project / "a.txt")})
    assert (access.kind, access.outside_project, access.summary) == ("read", False, "file_editor view a.txt")
    lenient = FileEditorTool(ProjectScope.at(project, allow_outside=True))
    access = lenient.check({"command": "create", "path": "../x.txt", "file_text": ""})
    assert (access.kind, access.outside_project) == ("write", True)
    assert access.paths == (tmp_path.resolve() / "x.txt",)
    assert access.scope_key == "file_editor:write"


@pytest.mark.parametrize(("args", "message"), [
    ({"command": "view"}, "file_editor: missing required argument 'path'"),
    ({"command": "delete", "path": "a"}, "file_editor: 'command' must be one of 'view', 'create'"),
    ({"command": "create", "path": "a"}, "file_editor: 'create' needs the 'file_text' argument"),
    ({"command": "str_replace", "path": "a", "new_str": "b"},
     "file_editor: 'str_replace' needs the 'old_str'"),
    ({"command": "insert", "path": "a", "new_str": "b"}, "file_editor: 'insert' needs the 'insert_line'"),
    ({"command": "insert", "path": "a", "insert_line": 1.5, "new_str": "b"},
     "file_editor: 'insert_line' must be an integer, got number 1.5"),
    ({"command": "view", "path": "a", "view_range": [1]},
     "file_editor: 'view_range' must have exactly 2 items"),
    ({"command": "view", "path": "a", "view_range": ["1", "2"]},
     "file_editor: 'view_range[0]' must be an integer, got string '1'"),
    ({"command": "view", "path": ["a"]}, "file_editor: 'path' must be a string, got array ['a']"),
    ({"command": "view", "path": " "}, "file_editor: 'path' is empty"),
])
def test_argument_errors_are_clear(editor: FileEditorTool, args: dict[str, Any], message: str) -> None:
    assert refused(editor, **args).startswith(message)


def test_integral_floats_are_accepted_for_integers(editor: FileEditorTool) -> None:
    editor.check({"command": "insert", "path": "a", "insert_line": 2.0, "new_str": "x"})


async def test_special_files_are_refused_without_blocking(editor: FileEditorTool, project: Path) -> None:
    import os

    os.mkfifo(project / "pipe")
    assert await call(editor, command="view", path="pipe") == (
        "pipe is not a regular file (a device, socket or pipe); it cannot be shown", True)
    assert await call(editor, command="create", path="pipe", file_text="x") == (
        "pipe is not a regular file; refusing to replace it", True)
    assert await call(editor, command="str_replace", path="pipe", old_str="a", new_str="b") == (
        "pipe is not a regular file; refusing to edit it", True)
