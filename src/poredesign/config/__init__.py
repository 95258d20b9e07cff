"""Study configuration: one path from a study file to the library's typed settings.

- :mod:`~poredesign.config.reading`: YAML read strictly, :func:`load_config`, the Snakefile's check;
- :mod:`~poredesign.config.schema`: the JSON Schema (``schema.yaml``, shipped with the package and
  the one source of defaults), validation that fills the defaults in and names the key of every
  problem;
- :mod:`~poredesign.config.rules`: the rules across keys that a JSON Schema cannot state;
- :mod:`~poredesign.config.settings`: :class:`Settings`, the base of the typed settings that a
  validated section builds (``Cls.from_config(section)``);
- :mod:`~poredesign.config.stages`: which stages each structure generator offers.
"""

from poredesign.config.errors import ConfigError
from poredesign.config.reading import (
    debug_wanted,
    load_config,
    read_yaml,
    validate_workflow_config,
)
from poredesign.config.schema import (
    RENAMED_KEYS,
    SCHEMA_PATH,
    load_schema,
    schema_default,
    schema_node,
    validate_config,
)
from poredesign.config.settings import Settings, settings_from_section
from poredesign.config.stages import DESIGN_STAGE_GENERATORS, LATENT_DESIGN_GENERATORS

__all__ = [
    "DESIGN_STAGE_GENERATORS",
    "LATENT_DESIGN_GENERATORS",
    "RENAMED_KEYS",
    "SCHEMA_PATH",
    "ConfigError",
    "Settings",
    "debug_wanted",
    "load_config",
    "load_schema",
    "read_yaml",
    "schema_default",
    "schema_node",
    "settings_from_section",
    "validate_config",
    "validate_workflow_config",
]
