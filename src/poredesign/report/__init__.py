"""Study summaries (Markdown), one module per study: :mod:`.spinodoid` [R22], :mod:`.membrane`
[Z23], :mod:`.pvae` [A25]; :mod:`.markdown` holds the shared formatting."""

from poredesign.report.membrane import write_membrane_summary
from poredesign.report.pvae import write_squares_summary
from poredesign.report.spinodoid import write_study_summary

__all__ = ["write_membrane_summary", "write_squares_summary", "write_study_summary"]
