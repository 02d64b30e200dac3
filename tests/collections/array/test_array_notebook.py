"""The array notebook runs from top to bottom (its cells assert against NumPy)."""

from __future__ import annotations

from pathlib import Path

import nbclient
import nbformat

NOTEBOOK = Path(__file__).resolve().parents[3] / "notebooks" / "array.ipynb"


def test_array_notebook_executes(tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    # the display cells show the array's table and block sketch
    html = [o for o in outputs if "text/html" in o.get("data", {})]
    assert any("<svg" in o["data"]["text/html"] for o in html)
