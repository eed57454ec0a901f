"""Build hook: record the ocirt source tree that the package is built from.

At run time the binding looks for target/release/libocirt.so in that tree, so a package
installed with `pip install bindings/python` finds the library built in the same checkout.
Everything else about the package is in pyproject.toml.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyRecordingTree(build_py):
    """build_py that also writes ocirt/_build_tree.txt when built inside an ocirt tree."""

    def run(self) -> None:
        super().run()
        tree = Path(__file__).resolve().parents[2]
        if (tree / "include" / "ocirt.h").is_file():
            target = Path(self.build_lib) / "ocirt" / "_build_tree.txt"
            target.write_text(f"{tree}\n", encoding="utf-8")


setup(cmdclass={"build_py": BuildPyRecordingTree})
