"""Static checks of the classroom files (fast, no hub started; part of ``make test-unit``): the README documents
every setting of hub/jupyterhub_config.py, and the z2jh values fragment mounts the data read-only, culls idle
servers and keeps each resource guarantee within its limit."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def _bytes(size: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)([KMGT]?)", str(size)).groups()
    return float(number) * 1000 ** "_KMGT".index(unit or "_")


def test_readme_documents_every_hub_setting():
    config = (REPO / "hub" / "jupyterhub_config.py").read_text()
    settings = set(re.findall(r'os\.environ\.get\("(HUB_[A-Z_]+)"', config)) - {"HUB_API_PORT", "HUB_PROXY_API_PORT"}
    section = (REPO / "README.md").read_text().split("## Classroom on JupyterHub", 1)[1].split("\n## ", 1)[0]
    missing = sorted(s for s in settings if f"`{s}`" not in section)
    assert settings and not missing, f"settings of hub/jupyterhub_config.py not in the README's table: {missing}"
    assert "<!-- sizing:begin -->" in section and "<!-- sizing:end -->" in section


def test_z2jh_values_fragment():
    values = yaml.safe_load((REPO / "hub" / "z2jh-values.yaml").read_text())
    user = values["singleuser"]
    assert _bytes(user["memory"]["guarantee"]) <= _bytes(user["memory"]["limit"])
    assert float(user["cpu"]["guarantee"]) <= float(user["cpu"]["limit"])
    mounts = user["storage"]["extraVolumeMounts"].values()
    volumes = user["storage"]["extraVolumes"]
    data = [m for m in mounts if m["mountPath"] == user["extraEnv"]["COURSE_DATA_MIRROR"]]
    assert data and all(m["readOnly"] is True for m in data), "the shared data must be mounted read-only"
    assert all(m["name"] in {v["name"] for v in volumes.values()} for m in mounts)
    assert values["cull"]["enabled"] is True and int(values["cull"]["timeout"]) > 0
    assert user["defaultUrl"].endswith("00_start_here.ipynb")
