"""Runs one pum 0.x Python delta or hook for ladle (lua/ladle/plan/python.lua).

    python3 deltapy.py CONTEXT_JSON

CONTEXT_JSON: {"file", "module", "current_db_version", "delta_dir",
"delta_dirs", "pg_service", "upgrades_table", "variables": [[TYPE, NAME,
VALUE], ...]}. As pum does, the file is imported and every subclass of
DeltaPy in it is instantiated with (current_db_version, delta_dir,
delta_dirs, pg_service, upgrades_table, variables=...) and run. DeltaPy is
pum's own class when pum is installed, else the class below, which
`from pum.core.deltapy import DeltaPy` then finds. The password, if any, is
in PGPASSWORD, never in the arguments.
"""

import importlib.util
import inspect
import json
import sys
import types
from abc import ABCMeta, abstractmethod


class DeltaPy(metaclass=ABCMeta):
    """The base class of a Python delta: pum 0.x's interface."""

    def __init__(self, current_db_version, delta_dir, delta_dirs, pg_service, upgrades_table,
                 variables=None):
        self.__current_db_version = current_db_version
        self.__delta_dir = delta_dir
        self.__delta_dirs = delta_dirs
        self.__pg_service = pg_service
        self.__upgrades_table = upgrades_table
        self.__variables = {} if variables is None else variables

    @abstractmethod
    def run(self):
        """What the delta does; called once, after the constructor."""

    @property
    def current_db_version(self):
        return self.__current_db_version

    @property
    def delta_dir(self):
        """The folder of this delta, ending with a path separator."""
        return self.__delta_dir

    @property
    def delta_dirs(self):
        return self.__delta_dirs

    @property
    def pg_service(self):
        return self.__pg_service

    @property
    def upgrades_table(self):
        return self.__upgrades_table

    @property
    def variables(self):
        return self.__variables

    def variable(self, name, default_value=None):
        """The variable's value; without a default, a missing one raises KeyError."""
        if default_value:
            return self.__variables.get(name, default_value)
        return self.__variables[name]

    def write_message(self, text):
        print("Message from {}: {}".format(self.__class__.__name__, text))


def base_class():
    """pum's DeltaPy when pum is installed; else ours, importable under pum's name."""
    try:
        from pum.core.deltapy import DeltaPy as installed
        return installed
    except ImportError:
        pass
    package = types.ModuleType("pum")
    package.__path__ = []
    core = types.ModuleType("pum.core")
    core.__path__ = []
    module = types.ModuleType("pum.core.deltapy")
    module.DeltaPy = DeltaPy
    package.core = core
    core.deltapy = module
    sys.modules.update({"pum": package, "pum.core": core, "pum.core.deltapy": module})
    return DeltaPy


CONVERT = {"int": int, "float": float, "str": str}


def main(argv):
    context = json.loads(argv[1])
    base = base_class()
    variables = {name: CONVERT[kind](value) for kind, name, value in context["variables"]}
    spec = importlib.util.spec_from_file_location(context["module"], context["file"])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in dir(module):
        obj = getattr(module, name)
        if inspect.isclass(obj) and obj is not base and issubclass(obj, base):
            instance = obj(context["current_db_version"], context["delta_dir"], context["delta_dirs"],
                           context["pg_service"], context["upgrades_table"], variables=variables)
            instance.run()
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
