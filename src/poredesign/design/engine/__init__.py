"""One design engine for any target on every generator, the solver deciding.

- :mod:`.targets`: target keys, parsing and the physical bounds;
- :mod:`.generators`: the generator registry (spinodoid, voronoi, squares);
- :mod:`.solver`: the target's properties of one structure by the solvers (calls, CPU seconds);
- :mod:`.search`: the search (Levenberg-Marquardt over parameters with seed selection) and the
  design's record;
- :mod:`.squares`: the square-pore generator's own placement search through the engine.
"""

from poredesign.design.engine.generators import REGISTRY, Generator, Param, get_generator, register
from poredesign.design.engine.search import MODES, DesignResult, Problem, design
from poredesign.design.engine.solver import Solver
from poredesign.design.engine.targets import KEYS, TargetError, parse_target

__all__ = [
    "KEYS",
    "MODES",
    "REGISTRY",
    "DesignResult",
    "Generator",
    "Param",
    "Problem",
    "Solver",
    "TargetError",
    "design",
    "get_generator",
    "parse_target",
    "register",
]
