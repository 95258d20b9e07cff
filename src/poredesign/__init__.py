"""poredesign: inverse design of porous microstructures.

Voxel convention everywhere: ``True``/1 = solid, ``False``/0 = pore, arrays indexed (x, y, z).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("poredesign")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
