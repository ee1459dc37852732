"""Settings every ecotop command and the dashboard share, and the pinned panels of the SQL console.

One piece over ~500 lines: reading, checking (with file, line and key in every message) and writing
the one config format; the parts share its key table and error positions.

Precedence, lowest first: built-in defaults < the system config (`site_config_dir("ecotop")/
config.toml`, every directory of XDG_CONFIG_DIRS on Linux, the first one winning) < the user config
(`user_config_dir("ecotop")/config.toml`, or the file named by ECOTOP_CONFIG or `--config F`, which
replaces it) < ECOTOP_* environment variables < command-line flags.

A file that is not valid TOML, an unknown key or a value of the wrong type raises `ConfigError`
(a StoreError, so `guarded` commands print it on one line and exit 1) naming the file, the line
when it can be found and the key path: `config.toml:7: alerts.pay_low.treshold: unknown key`.

Writing (`add_panel`, `remove_panel`) rewrites the user file with tomli-w, keeping every other
setting it holds (comments are not kept; the previous file is saved as `config.toml.bak`).

No Textual here: `ecotop check` loads settings too and must start fast. (`ecotop.tui.config` is the
same module under its old name.)
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecotop.queries.alerts import Rule, RuleError, default_rules, rule_from_table
from ecotop.queries.alerts.rules import type_name as _type_name
from ecotop.queries.errors import StoreError
from ecotop.queries.windows import RANGES

APP = "ecotop"
CONFIG_NAME = "config.toml"
PANEL_KINDS = ("table", "number", "chart")
REFRESH_MIN, REFRESH_MAX = 0.1, 3600.0


class ConfigError(StoreError):
    """A settings file or variable that cannot be used; str() is one line naming file, line, key."""

    exit_code = 1

    def __init__(
        self, message: str, *, source: str | Path | None = None, line: int | None = None
    ) -> None:
        where = str(source) if source else ""
        if where and line:
            where += f":{line}"
        super().__init__(f"{where}: {message}" if where else message)
        self.source = source
        self.line = line
        self.detail = message


@dataclass(frozen=True)
class Panel:
    """A custom panel pinned from the SQL console: a name, its SQL and how to show it."""

    name: str
    sql: str
    kind: str = "table"  # table | number | chart

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError("a panel needs a non-empty name")
        if not isinstance(self.sql, str) or not self.sql.strip():
            raise ValueError("a panel needs its SQL")
        if self.kind not in PANEL_KINDS:
            raise ValueError(f"panel kind must be one of {', '.join(PANEL_KINDS)}")

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "sql": self.sql, "kind": self.kind}


@dataclass(frozen=True)
class Settings:
    """Every setting, resolved. `origin` says where each scalar came from (for `--help`/debugging)."""

    display_zone: str = "Asia/Shanghai"
    range: str = "1h"
    refresh: float = 2.0
    theme: str = "textual-dark"
    threads: int | None = None
    memory_limit: str | None = None
    temp_dir: str | None = None
    alerts: tuple[Rule, ...] = field(default_factory=lambda: tuple(default_rules()))
    panels: tuple[Panel, ...] = ()
    files: tuple[Path, ...] = ()  # the config files read, lowest precedence first
    user_file: Path | None = None  # where add_panel/remove_panel write
    origin: Mapping[str, str] = field(default_factory=dict)

    @property
    def zone(self) -> Any:
        """The display zone as a tzinfo."""
        from zoneinfo import ZoneInfo

        return ZoneInfo(self.display_zone)

    def limits(self) -> Any:
        """ecotop.store.Limits for open_db, from the threads / memory_limit / temp_dir settings."""
        from ecotop.store.db import Limits

        kw: dict[str, Any] = {}
        if self.threads is not None:
            kw["threads"] = self.threads
        if self.memory_limit is not None:
            kw["memory_limit"] = self.memory_limit
        if self.temp_dir is not None:
            kw["temp_directory"] = self.temp_dir
        return Limits(**kw)

    def rule(self, name: str) -> Rule | None:
        return next((r for r in self.alerts if r.name == name), None)

    def panel(self, name: str) -> Panel | None:
        return next((p for p in self.panels if p.name == name), None)


# --- the scalar settings: key -> (environment variable, parser) ------------------------------------


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise TypeError(f"expected a string, got {_type_name(v)}")
    if not v.strip():
        raise ValueError("must not be empty")
    return v.strip()


def _zone(v: Any) -> str:
    name = _str(v)
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (e.g. Asia/Shanghai, UTC)") from None
    return name


def _range(v: Any) -> str:
    key = _str(v).lower()
    if key not in RANGES:
        raise ValueError(f"unknown time range {v!r}; use one of {', '.join(RANGES)}")
    return key


def _refresh(v: Any) -> float:
    if isinstance(v, str):
        try:
            v = float(v.strip().removesuffix("s"))
        except ValueError:
            raise ValueError(f"expected seconds, got {v!r}") from None
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise TypeError(f"expected a number of seconds, got {_type_name(v)}")
    if not REFRESH_MIN <= v <= REFRESH_MAX:
        raise ValueError(f"must be between {REFRESH_MIN:g} and {REFRESH_MAX:g} seconds")
    return float(v)


def _threads(v: Any) -> int:
    if isinstance(v, str):
        try:
            v = int(v.strip())
        except ValueError:
            raise ValueError(f"expected a whole number, got {v!r}") from None
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"expected a whole number, got {_type_name(v)}")
    if v < 1:
        raise ValueError("must be at least 1")
    return v


_MEMORY = re.compile(r"^\d+(\.\d+)?\s*([KMGT]i?B|B)?$", re.IGNORECASE)


def _memory(v: Any) -> str:
    text = _str(v)
    if not _MEMORY.match(text):
        raise ValueError(f"expected a size like '1GB' or '512MiB', got {v!r}")
    return text


SCALARS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "display_zone": ("ECOTOP_DISPLAY_ZONE", _zone),
    "range": ("ECOTOP_RANGE", _range),
    "refresh": ("ECOTOP_REFRESH", _refresh),
    "theme": ("ECOTOP_THEME", _str),
    "threads": ("ECOTOP_THREADS", _threads),
    "memory_limit": ("ECOTOP_MEMORY_LIMIT", _memory),
    "temp_dir": ("ECOTOP_TEMP_DIR", _str),
}
TOP_KEYS = (*SCALARS, "alerts", "panels")
CONFIG_ENV = "ECOTOP_CONFIG"


# --- where the files are ---------------------------------------------------------------------------


def system_files() -> list[Path]:
    """The system config files that may exist, lowest precedence first."""
    import platformdirs

    dirs = platformdirs.site_config_dir(APP, multipath=True).split(os.pathsep)
    # XDG_CONFIG_DIRS lists the most important directory first: read it last.
    return [Path(d) / CONFIG_NAME for d in reversed(dirs) if d]


def user_file() -> Path:
    """The user's config file (it may not exist)."""
    import platformdirs

    return Path(platformdirs.user_config_dir(APP)) / CONFIG_NAME


# --- reading ---------------------------------------------------------------------------------------


def read_toml(path: Path) -> tuple[dict[str, Any], str]:
    """Parse one TOML file; ConfigError with the file and line for unreadable or invalid files."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("no such config file", source=path) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, not a config file", source=path) from None
    except UnicodeDecodeError:
        raise ConfigError("is not UTF-8 text", source=path) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", source=path) from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        line = int(m.group(1)) if m else None
        detail = msg[: m.start()].strip() if m else msg
        col = f", column {m.group(2)}" if m else ""
        raise ConfigError(f"invalid TOML: {detail}{col}", source=path, line=line) from None


@dataclass
class _Problem:
    path: tuple[str | int, ...]
    message: str


def _key_text(path: tuple[str | int, ...]) -> str:
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            part = p if re.fullmatch(r"[A-Za-z0-9_-]+", p) else f'"{p}"'
            out += f".{part}" if out else part
    return out


class _Layer:
    """One file's contribution, checked key by key; problems carry the key path for line lookup."""

    def __init__(self, data: dict[str, Any], source: Path | str, text: str | None) -> None:
        self.data = data
        self.source = source
        self.text = text
        self.problems: list[_Problem] = []

    def fail(self) -> None:
        if not self.problems:
            return
        first = self.problems[0]
        line = _locate(self.text, first.path) if self.text else None
        more = len(self.problems) - 1
        tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        key = _key_text(first.path)
        raise ConfigError(f"{key}: {first.message}{tail}", source=self.source, line=line)


def _scalars(layer: _Layer) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in layer.data.items():
        if key in ("alerts", "panels"):
            continue
        if key not in SCALARS:
            layer.problems.append(
                _Problem((key,), f"unknown setting (known: {', '.join(TOP_KEYS)})")
            )
            continue
        try:
            out[key] = SCALARS[key][1](value)
        except (TypeError, ValueError) as exc:
            layer.problems.append(_Problem((key,), str(exc)))
    return out


def _alert_tables(layer: _Layer) -> list[tuple[str, dict[str, Any], tuple[str | int, ...]]]:
    """(name, table, key path) of every rule in the layer, in file order."""
    raw = layer.data.get("alerts")
    if raw is None:
        return []
    out: list[tuple[str, dict[str, Any], tuple[str | int, ...]]] = []
    if isinstance(raw, dict):
        for name, table in raw.items():
            if not isinstance(table, dict):
                layer.problems.append(
                    _Problem(
                        ("alerts", name),
                        f"expected a table [alerts.{name}], got {_type_name(table)}",
                    )
                )
                continue
            out.append((name, table, ("alerts", name)))
    elif isinstance(raw, list):
        seen: set[str] = set()
        for i, table in enumerate(raw):
            if not isinstance(table, dict):
                layer.problems.append(
                    _Problem(("alerts", i), f"expected a table, got {_type_name(table)}")
                )
                continue
            name = table.get("name")
            if not isinstance(name, str) or not name.strip():
                layer.problems.append(
                    _Problem(("alerts", i, "name"), "every [[alerts]] needs a name")
                )
                continue
            if name in seen:
                layer.problems.append(_Problem(("alerts", i, "name"), f"duplicate rule {name!r}"))
                continue
            seen.add(name)
            out.append((name, {k: v for k, v in table.items() if k != "name"}, ("alerts", i)))
    else:
        layer.problems.append(
            _Problem(("alerts",), "expected [alerts.NAME] tables or [[alerts]] tables")
        )
    return out


def _panels(layer: _Layer) -> list[Panel]:
    raw = layer.data.get("panels")
    if raw is None:
        return []
    if not isinstance(raw, list):
        layer.problems.append(_Problem(("panels",), "expected [[panels]] tables"))
        return []
    out: list[Panel] = []
    for i, table in enumerate(raw):
        if not isinstance(table, dict):
            layer.problems.append(
                _Problem(("panels", i), f"expected a table, got {_type_name(table)}")
            )
            continue
        bad = False
        for key, value in table.items():
            if key not in ("name", "sql", "kind"):
                layer.problems.append(
                    _Problem(("panels", i, key), "unknown key (known: name, sql, kind)")
                )
                bad = True
            elif not isinstance(value, str):
                layer.problems.append(
                    _Problem(("panels", i, key), f"expected a string, got {_type_name(value)}")
                )
                bad = True
        if bad:
            continue
        for key in ("name", "sql"):
            if key not in table:
                layer.problems.append(_Problem(("panels", i), f"a panel needs '{key}'"))
                bad = True
        if bad:
            continue
        try:
            out.append(Panel(table["name"], table["sql"], table.get("kind", "table")))
        except ValueError as exc:
            key = "kind" if "kind" in str(exc) else "name" if "name" in str(exc) else "sql"
            layer.problems.append(_Problem(("panels", i, key), str(exc)))
    return out


def load(
    config: str | os.PathLike[str] | None = None,
    *,
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    system: bool = True,
) -> Settings:
    """Resolve every setting: defaults < system files < user file < ECOTOP_* variables < flags.

    `config` (the `--config F` flag, else ECOTOP_CONFIG) replaces the user file and must exist.
    `flags` maps setting names to command-line values; None values are ignored. `env` defaults to
    os.environ. Raises ConfigError (exit 1) for anything that cannot be used.
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    origin: dict[str, str] = {k: "default" for k in SCALARS}
    defaults = {r.name: r for r in default_rules()}
    rules: dict[str, Rule] = dict(defaults)
    enabled: dict[str, bool] = {n: True for n in rules}
    rule_tables: dict[str, dict[str, Any]] = {}
    panels: dict[str, Panel] = {}
    files: list[Path] = []

    explicit = config if config is not None else env.get(CONFIG_ENV) or None
    ufile = Path(explicit).expanduser() if explicit else user_file()
    candidates = [*(system_files() if system else []), ufile]
    for path in candidates:
        if path != ufile or not explicit:
            try:
                if not path.is_file():
                    continue
            except OSError:
                continue
        data, text = read_toml(path)
        files.append(path)
        layer = _Layer(data, path, text)
        for key, value in _scalars(layer).items():
            values[key] = value
            origin[key] = str(path)
        for name, table, kpath in _alert_tables(layer):
            merged = {**rule_tables.get(name, {}), **table}
            try:
                rule, on = rule_from_table(name, merged, defaults.get(name))
            except RuleError as exc:
                keys = [k for k in (exc.key, *exc.related) if k and k in table]
                sub = tuple(keys[:1])
                layer.problems.append(_Problem((*kpath, *sub), str(exc)))
                continue
            rule_tables[name] = merged
            rules[name] = rule
            enabled[name] = on
        for panel in _panels(layer):
            panels[panel.name] = panel
        layer.fail()

    for key, (var, parse) in SCALARS.items():
        raw = env.get(var)
        if raw is None or raw == "":
            continue
        try:
            values[key] = parse(raw)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{var}={raw!r}: {exc}") from None
        origin[key] = var

    for key, raw in (flags or {}).items():
        if raw is None:
            continue
        if key not in SCALARS:
            raise ValueError(f"no setting {key!r}")  # a programming error, not a user's
        try:
            values[key] = SCALARS[key][1](raw)
        except (TypeError, ValueError) as exc:
            flag = "--" + key.replace("_", "-")
            raise ConfigError(f"{flag} {raw!r}: {exc}") from None
        origin[key] = "--" + key.replace("_", "-")

    return Settings(
        **values,
        alerts=tuple(r for n, r in rules.items() if enabled[n]),
        panels=tuple(panels.values()),
        files=tuple(files),
        user_file=ufile,
        origin=origin,
    )


# --- finding the line of a key ---------------------------------------------------------------------

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEYLINE = re.compile(
    r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*="""
)
_PART = re.compile(r"""[A-Za-z0-9_-]+|"([^"]*)"|'([^']*)'""")


def _split_key(text: str) -> tuple[str, ...]:
    out = []
    for m in _PART.finditer(text):
        out.append(
            m.group(1)
            if m.group(1) is not None
            else m.group(2)
            if m.group(2) is not None
            else m.group(0)
        )
    return tuple(out)


def _locate(text: str, path: tuple[str | int, ...]) -> int | None:
    """The line of `path` (or of its nearest enclosing table) in TOML `text`; None if not found."""
    lines: dict[tuple[str | int, ...], int] = {}
    table: tuple[str | int, ...] = ()
    arrays: dict[tuple[str, ...], int] = {}
    in_multiline: str | None = None
    for n, line in enumerate(text.splitlines(), start=1):
        if in_multiline:
            if line.count(in_multiline) % 2 == 1:
                in_multiline = None
            continue
        h = _HEADER.match(line)
        if h:
            names = _split_key(h.group(2))
            if h.group(1) == "[[":
                idx = arrays.get(names, -1) + 1
                arrays[names] = idx
                table = (*names, idx)
            else:
                table = names
            lines.setdefault(table, n)
            continue
        k = _KEYLINE.match(line)
        if k:
            key = (*table, *_split_key(k.group(1)))
            lines.setdefault(key, n)
            rest = line[k.end() :]
            for q in ('"""', "'''"):
                if rest.count(q) % 2 == 1:
                    in_multiline = q
                    break
    for i in range(len(path), 0, -1):
        if path[:i] in lines:
            return lines[path[:i]]
    return None


# --- writing pinned panels -------------------------------------------------------------------------


def _read_for_write(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    data, _ = read_toml(path)
    return data


def _write(path: Path, data: dict[str, Any]) -> None:
    import tomli_w

    text = tomli_w.dumps(data, multiline_strings=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        mode = None
        if path.exists():
            path.with_name(path.name + ".bak").write_bytes(path.read_bytes())
            mode = path.stat().st_mode & 0o777
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"cannot write: {exc.strerror or exc}", source=path) from None


def panels_in(path: str | os.PathLike[str]) -> list[Panel]:
    """The panels pinned in one file (the user's, usually)."""
    p = Path(path)
    if not p.exists():
        return []
    data, text = read_toml(p)
    layer = _Layer({"panels": data.get("panels")} if "panels" in data else {}, p, text)
    out = _panels(layer)
    layer.fail()
    return out


def add_panel(path: str | os.PathLike[str], panel: Panel) -> Panel | None:
    """Pin `panel` in the config file at `path` (made if missing), keeping every other setting.

    A panel of the same name is replaced in place; returns the panel it replaced, or None. The file
    must be valid TOML: ConfigError otherwise, and nothing is written.
    """
    p = Path(path)
    if not isinstance(panel, Panel):
        raise TypeError("add_panel takes a config.Panel")
    data = _read_for_write(p)
    raw = data.get("panels", [])
    if not isinstance(raw, list):
        raise ConfigError("panels: expected [[panels]] tables; not changed", source=p)
    replaced = None
    for i, table in enumerate(raw):
        if isinstance(table, dict) and table.get("name") == panel.name:
            try:
                replaced = Panel(table["name"], table.get("sql", "-"), table.get("kind", "table"))
            except ValueError:
                replaced = None
            raw[i] = panel.to_dict()
            break
    else:
        raw.append(panel.to_dict())
    data["panels"] = raw
    _write(p, data)
    return replaced


def remove_panel(path: str | os.PathLike[str], name: str) -> bool:
    """Unpin the panel called `name` from the file at `path`; False if it was not there."""
    p = Path(path)
    data = _read_for_write(p)
    raw = data.get("panels")
    if not isinstance(raw, list):
        return False
    keep = [t for t in raw if not (isinstance(t, dict) and t.get("name") == name)]
    if len(keep) == len(raw):
        return False
    if keep:
        data["panels"] = keep
    else:
        del data["panels"]
    _write(p, data)
    return True
