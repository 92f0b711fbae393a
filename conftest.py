"""Settings for every pytest run from the repository root, including the notebooks that nbval collects (they do not
load ``tests/conftest.py``): offline, so no notebook kernel started by a test can download anything."""
import os

os.environ["COURSE_OFFLINE"] = "1"
os.environ["HF_HUB_OFFLINE"] = "1"
