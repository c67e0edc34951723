"""A minimal pum 0.10-like runner, written for spec/pum_compare_spec.lua.

    pum_reference.py baseline SERVICE TABLE VERSION
    pum_reference.py upgrade SERVICE TABLE DIR... [--var TYPE NAME VALUE]...

It follows pum's rules as issue 11 states them, independently of ladle:
pum's name pattern; per folder, order by (version numerically, pre=1 /
none=2 / post=3, description), folder after folder; a delta runs when no
successful row has its version and checksum and its version is at least the
current one; pre-all hooks over the folders in reverse order, post-all in
order, .py before .sql; SQL executed whole through psycopg2, with pyformat
substitution only when a variable is given; .py files imported, each DeltaPy
subclass instantiated and run; a row after each delta, in pum's table.
"""

import hashlib
import importlib.util
import inspect
import os
import re
import sys
import types
from abc import ABCMeta, abstractmethod

import psycopg2

PATTERN = re.compile(r"^delta_(\d+\.\d+\.\d+)(_*)(\w*)\.(pre\.sql|sql|post\.sql|pre\.py|py|post\.py)$")
PRIORITY = {"pre.sql": 1, "pre.py": 1, "sql": 2, "py": 2, "post.sql": 3, "post.py": 3}
TYPE_CODE = {"pre.sql": 9, "sql": 8, "post.sql": 10, "pre.py": 5, "py": 4, "post.py": 6}
DDL = """CREATE TABLE IF NOT EXISTS {} (
  id serial NOT NULL, version character varying(50) NOT NULL, description character varying(200) NOT NULL,
  type integer NOT NULL, script character varying(1000) NOT NULL, checksum character varying(32) NOT NULL,
  installed_by character varying(100) NOT NULL, installed_on timestamp without time zone NOT NULL DEFAULT now(),
  execution_time integer NOT NULL, success boolean NOT NULL, PRIMARY KEY (id), EXCLUDE (version WITH =) WHERE (type = 0))"""


class DeltaPy(metaclass=ABCMeta):
    def __init__(self, current_db_version, delta_dir, delta_dirs, pg_service, upgrades_table, variables=None):
        self._args = (current_db_version, delta_dir, delta_dirs, pg_service, upgrades_table)
        self._variables = variables or {}

    @abstractmethod
    def run(self):
        pass

    current_db_version = property(lambda self: self._args[0])
    delta_dir = property(lambda self: self._args[1])
    delta_dirs = property(lambda self: self._args[2])
    pg_service = property(lambda self: self._args[3])
    upgrades_table = property(lambda self: self._args[4])
    variables = property(lambda self: self._variables)

    def variable(self, name, default_value=None):
        return self._variables.get(name, default_value) if default_value else self._variables[name]

    def write_message(self, text):
        print("Message from {}: {}".format(self.__class__.__name__, text))


def install_deltapy():
    names = ["pum", "pum.core", "pum.core.deltapy"]
    modules = [types.ModuleType(name) for name in names]
    modules[0].__path__, modules[1].__path__ = [], []
    modules[0].core, modules[1].deltapy, modules[2].DeltaPy = modules[1], modules[2], DeltaPy
    sys.modules.update(dict(zip(names, modules)))


def version_key(text):
    return tuple(int(part) for part in text.split("."))


class Runner:
    def __init__(self, service, table, dirs, variables):
        self.service, self.table, self.dirs, self.variables = service, table, dirs, variables
        self.conn = psycopg2.connect("service={}".format(service))
        self.cur = self.conn.cursor()

    def current_version(self):
        self.cur.execute("SELECT version FROM {} WHERE success".format(self.table))
        versions = [row[0] for row in self.cur.fetchall()]
        return max(versions, key=version_key) if versions else None

    def run_sql(self, path):
        with open(path) as f:
            sql = f.read()
        if self.variables:
            self.cur.execute(sql, self.variables)
        else:
            self.cur.execute(sql)
        self.conn.commit()

    def run_py(self, path, module_name):
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for name in dir(module):
            obj = getattr(module, name)
            if inspect.isclass(obj) and obj is not DeltaPy and issubclass(obj, DeltaPy):
                obj(self.current_version(), os.path.dirname(path) + os.sep, self.dirs, self.service, self.table,
                    variables=self.variables).run()

    def hooks(self, name, dirs):
        for d in dirs:
            for ext, run in (("py", lambda p: self.run_py(p, name)), ("sql", self.run_sql)):
                path = os.path.join(d, "{}.{}".format(name, ext))
                if os.path.isfile(path):
                    run(path)

    def deltas(self, d):
        found = []
        for f in os.listdir(d):
            m = PATTERN.match(f)
            if m and os.path.isfile(os.path.join(d, f)):
                found.append((version_key(m.group(1)), PRIORITY[m.group(4)], m.group(3), m, os.path.join(d, f)))
        return sorted(found, key=lambda item: item[:3])

    def applied(self, version, checksum):
        self.cur.execute("SELECT 1 FROM {} WHERE version = %s AND checksum = %s AND success".format(self.table),
                         (version, checksum))
        return self.cur.fetchone() is not None

    def upgrade(self):
        self.hooks("pre-all", list(reversed(self.dirs)))
        current = self.current_version()
        for d in self.dirs:
            for key, _, description, m, path in self.deltas(d):
                with open(path, "rb") as f:
                    checksum = hashlib.md5(f.read()).hexdigest()
                if self.applied(m.group(1), checksum) or key < version_key(current):
                    continue
                if m.group(4).endswith("py"):
                    self.run_py(path, description)
                else:
                    self.run_sql(path)
                self.cur.execute("INSERT INTO {} (version, description, type, script, checksum, installed_by, "
                                 "execution_time, success) VALUES (%s, %s, %s, %s, %s, current_user, 1, true)"
                                 .format(self.table), (m.group(1), description, TYPE_CODE[m.group(4)], path, checksum))
                self.conn.commit()
                print("Applied delta {} {}".format(m.group(1), description))
        self.hooks("post-all", self.dirs)


def main(argv):
    install_deltapy()
    command, service, table = argv[1:4]
    if command == "baseline":
        runner = Runner(service, table, [], {})
        runner.cur.execute(DDL.format(table))
        runner.cur.execute("INSERT INTO {} (version, description, type, script, checksum, installed_by, "
                           "execution_time, success) VALUES (%s, 'baseline', 0, '', '', current_user, 1, true)"
                           .format(table), (argv[4],))
        runner.conn.commit()
        return 0
    dirs, variables, rest = [], {}, argv[4:]
    while rest:
        if rest[0] == "--var":
            kind, name, value = rest[1:4]
            variables[name] = {"int": int, "float": float, "str": str}[kind](value)
            rest = rest[4:]
        else:
            dirs.append(rest[0])
            rest = rest[1:]
    Runner(service, table, dirs, variables).upgrade()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
