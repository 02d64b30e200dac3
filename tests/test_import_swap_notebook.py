"""notebooks/import-swap.ipynb runs top to bottom: pandas/NumPy cells, then the same cells on shoal, compared."""

from __future__ import annotations

from pathlib import Path

import nbclient
import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "import-swap.ipynb"


def test_the_shoal_cells_are_the_pandas_cells_with_other_imports():
    cells = [c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code"]
    analysis = [c for c in cells if "groupby(" in c or "rolling(" in c or "@ z" in c or "read_csv(" in c]
    assert len(analysis) == 8 and len(set(analysis)) == 4  # four analysis cells, each shown twice, unchanged


@pytest.mark.timeout(150)
def test_import_swap_notebook_executes_and_results_match(tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # the kernel is shut down afterwards
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs)
    assert "same as pandas/NumPy" in text
    assert {"sales.csv", "stores.parquet", "sensors.npy"} <= {p.name for p in tmp_path.iterdir()}
