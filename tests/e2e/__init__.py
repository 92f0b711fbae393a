"""End-to-end tests: the interactive notebooks driven in JupyterLab by a real headless Chromium."""
