"""Stand-in for the get-pip script ansible-test downloads from a host this network cannot reach.

ansible-test runs it with pip-install arguments inside a fresh virtualenv; ensurepip provides pip, which then
installs the requested packages from PyPI.
"""

from __future__ import annotations

import subprocess
import sys

IGNORED = {"--no-setuptools", "--no-wheel"}

subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
subprocess.check_call([sys.executable, "-m", "pip", "install", *[arg for arg in sys.argv[1:] if arg not in IGNORED]])
