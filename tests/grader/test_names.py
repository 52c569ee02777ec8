"""Submission names keep their letters, never collide (not even by case), and nothing is left out silently."""

import zipfile
from pathlib import Path

from grader.grading.submissions import Submission, discover, safe_name, take_module

NAMES = ("lora_bert.py", "lora_bert.ipynb")  # what the module may be called


def touch(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).write_text("")


def test_names_keep_their_letters_in_any_script():
    assert safe_name("张伟") == "张伟"
    assert safe_name("José Müller \u2013 final (1)") == "José_Müller_final_1"
    assert safe_name("Jose\u0301") == "José"  # decomposed, as macOS writes it: the same name
    assert safe_name("../../etc/passwd") == "etc_passwd"
    assert safe_name("...") == "submission"


def test_a_class_folder_gives_distinct_names_and_says_what_it_left_out(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    touch(folder, "张伟.py", "李明.py", "王芳.py", "José Müller \u2013 final (1).py", "Bob.py", "bob.py", "kim.py",
          "kim_.py", "frank.txt", ".DS_Store")
    (folder / "empty").mkdir()
    (folder / "graded").mkdir()
    (folder / "graded" / "grades.csv").write_text("")
    submissions, skipped = discover([folder], NAMES, out=folder / "graded")
    names = [s.name for s in submissions]
    assert names == ["Bob", "José_Müller_final_1", "bob.py", "kim", "kim_.py", "张伟", "李明", "王芳"]
    assert len({name.casefold() for name in names}) == len(names)
    assert {path.name: reason for path, reason in skipped} == {
        "empty": "an empty folder", "graded": "the output folder",
        "frank.txt": "not a submission (.txt: expected .py, .ipynb, .zip or a folder)"}
    assert discover([folder], NAMES, out=folder / "graded")[0] == submissions  # stable from run to run


def test_a_pack_takes_only_the_formats_its_spec_names(tmp_path):
    """A spec whose ``formats`` are ``["py"]``: a notebook or a zip in a class folder is left out, saying what the
    assignment takes, and one given as a single submission gets no module, with that reason, instead of a grade."""
    folder = tmp_path / "class"
    folder.mkdir()
    touch(folder, "ann.py", "ben.ipynb")
    with zipfile.ZipFile(folder / "cat.zip", "w") as archive:
        archive.writestr("lora_bert.py", "")
    submissions, skipped = discover([folder], NAMES[:1], suffixes=(".py",))
    assert [s.name for s in submissions] == ["ann"]
    assert {path.name: reason for path, reason in skipped} == {
        "ben.ipynb": "not a submission (.ipynb: expected .py or a folder)",
        "cat.zip": "not a submission (.zip: expected .py or a folder)"}
    module = take_module(Submission("cat", folder / "cat.zip"), tmp_path, NAMES, suffixes=(".py", ".ipynb"))
    assert module.file is None and module.problem == "a .zip submission: this assignment takes .py, .ipynb or a folder"
    assert take_module(Submission("cat", folder / "cat.zip"), tmp_path, NAMES).file == tmp_path / "lora_bert.py"
