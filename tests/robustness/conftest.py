"""The atheris harness needs atheris, which the test suite does not install."""

collect_ignore = ["fuzz_atheris.py"]
