"""Every notebook in notebooks/ runs from top to bottom without an error and draws its plots.

The notebooks run in a kernel of this very interpreter (the venv's, with ``sim`` importable), from their
own folder, with a short simulated duration so the suite stays quick.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import ipykernel.kernelspec
import nbclient
import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))

# A cell that draws: it calls the plot API or matplotlib's figure functions.
PLOT_CELL = re.compile(r"\b(latency_cdf|sweep_plot)\(|\bplt\.(show|subplots|figure|plot|bar)\(")
# Appended to a copy of each notebook: which interpreter and which ``sim`` the kernel ran.
PROBE = "import sys, sim\nprint(sys.executable)\nprint(sim.__file__)"


@pytest.fixture(scope="module")
def kernel_specs(tmp_path_factory: pytest.TempPathFactory) -> KernelSpecManager:
    """A private ``python3`` kernel spec whose command is ``sys.executable -m ipykernel_launcher``.

    Written to a temporary prefix, so neither a user-wide spec pointing at another Python nor a
    missing spec can change which interpreter runs the notebooks.
    """
    prefix = tmp_path_factory.mktemp("jupyter")
    ipykernel.kernelspec.install(kernel_name="python3", prefix=str(prefix))
    specs = KernelSpecManager(kernel_dirs=[str(prefix / "share" / "jupyter" / "kernels")])
    assert specs.get_kernel_spec("python3").argv[0] == sys.executable
    return specs


def _text(cell: nbformat.NotebookNode) -> str:
    return "".join(out.get("text", "") for out in cell.outputs if out.output_type == "stream")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(
    path: Path, kernel_specs: KernelSpecManager, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FACTORY5G_NOTEBOOK_DURATION", "5s")
    monkeypatch.setenv("FACTORY5G_NOTEBOOK_REPLICATIONS", "1")
    monkeypatch.setenv("FACTORY5G_NOTEBOOK_COUNTS", "4,16")
    monkeypatch.setenv("FACTORY5G_NOTEBOOK_GROW_TO", "16")
    monkeypatch.setenv("FACTORY5G_NOTEBOOK_OUT", str(tmp_path / "out"))  # nothing in the clone
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))

    km = KernelManager(kernel_name="python3", kernel_spec_manager=kernel_specs)
    client = nbclient.NotebookClient(
        nb, km=km, timeout=600, resources={"metadata": {"path": str(NOTEBOOKS_DIR)}}
    )
    try:
        client.execute()
    except CellExecutionError as error:
        pytest.fail(f"{path.name} failed:\n{error}", pytrace=False)

    executable, sim_file = _text(nb.cells[-1]).splitlines()
    assert executable == sys.executable
    assert Path(sim_file).resolve() == ROOT / "sim" / "__init__.py"

    code_cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    plot_cells = [cell for cell in code_cells if PLOT_CELL.search(cell.source)]
    if "matplotlib" in "".join(cell.source for cell in code_cells):
        assert plot_cells, f"{path.name} imports matplotlib but no cell draws"
    for cell in plot_cells:
        images = [
            out
            for out in cell.outputs
            if out.output_type in ("display_data", "execute_result") and "image/png" in out.data
        ]
        assert images, f"{path.name}: no image/png from the cell\n{cell.source}"
