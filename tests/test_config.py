"""Settings: precedence system < user < ECOTOP_* < flags, clear errors, pinned panels written safely."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from ecotop.tui import config
from ecotop.tui.config import ConfigError, Panel


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """XDG directories in tmp_path and no ECOTOP_* variables: the real machine's files never leak in."""
    import os

    for var in list(os.environ):
        if var.startswith("ECOTOP_"):
            monkeypatch.delenv(var)
    home, sys1, sys2 = tmp_path / "home", tmp_path / "sys1", tmp_path / "sys2"
    for d in (home, sys1, sys2):
        (d / "ecotop").mkdir(parents=True)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_DIRS", f"{sys1}:{sys2}")
    return {
        "user": home / "ecotop" / "config.toml",
        "system": sys1 / "ecotop" / "config.toml",
        "system_low": sys2 / "ecotop" / "config.toml",
        "tmp": tmp_path,
    }


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_any_file(dirs: dict[str, Path]) -> None:
    s = config.load()
    assert (s.display_zone, s.range, s.refresh, s.theme) == (
        "Asia/Shanghai",
        "1h",
        2.0,
        "textual-dark",
    )
    assert s.files == ()
    assert s.user_file == dirs["user"]
    assert {r.name for r in s.alerts} >= {"pay_success_rate", "stale", "week_over_week"}
    assert s.panels == ()
    assert set(s.origin.values()) == {"default"}


def test_precedence_system_user_env_flag(dirs: dict[str, Path], monkeypatch) -> None:
    write(
        dirs["system_low"],
        'theme = "nord"\nrange = "30d"\n',
    )
    write(
        dirs["system"],
        'range = "24h"\nrefresh = 5\ntheme = "gruvbox"\ndisplay_zone = "UTC"\nthreads = 3\n',
    )
    write(dirs["user"], 'range = "7d"\nrefresh = 3\n')
    s = config.load()
    assert s.files == (dirs["system_low"], dirs["system"], dirs["user"])
    # The first XDG_CONFIG_DIRS entry outranks the second; the user file outranks both.
    assert (s.theme, s.display_zone, s.threads) == ("gruvbox", "UTC", 3)
    assert (s.range, s.refresh) == ("7d", 3.0)
    assert s.origin["range"] == str(dirs["user"]) and s.origin["theme"] == str(dirs["system"])

    monkeypatch.setenv("ECOTOP_RANGE", "30d")
    monkeypatch.setenv("ECOTOP_THREADS", "1")
    s = config.load()
    assert (s.range, s.refresh, s.threads) == ("30d", 3.0, 1)
    assert s.origin["range"] == "ECOTOP_RANGE"
    assert s.limits().threads == 1

    s = config.load(flags={"range": "15m", "refresh": None, "theme": "monokai"})
    assert (s.range, s.refresh, s.theme) == ("15m", 3.0, "monokai")
    assert s.origin["range"] == "--range" and s.origin["refresh"] == str(dirs["user"])


def test_config_flag_replaces_the_user_file(dirs: dict[str, Path], monkeypatch) -> None:
    write(dirs["system"], 'theme = "nord"\n')
    write(dirs["user"], 'range = "7d"\nrefresh = 9\n')
    other = write(dirs["tmp"] / "other.toml", "refresh = 4\n")
    s = config.load(other)
    assert s.files == (dirs["system"], other)
    assert (s.theme, s.range, s.refresh) == ("nord", "1h", 4.0)  # the user's 7d is not read
    assert s.user_file == other

    monkeypatch.setenv("ECOTOP_CONFIG", str(other))
    assert config.load().user_file == other
    assert config.load(dirs["user"]).refresh == 9.0  # the flag beats ECOTOP_CONFIG


def test_a_missing_config_flag_file_is_an_error(dirs: dict[str, Path]) -> None:
    missing = dirs["tmp"] / "nope.toml"
    with pytest.raises(ConfigError, match="no such config file") as err:
        config.load(missing)
    assert str(missing) in str(err.value)
    assert err.value.exit_code == 1


def test_invalid_toml_names_file_and_line(dirs: dict[str, Path]) -> None:
    write(dirs["user"], 'range = "1h"\n\n[alerts.pay_success_rate]\ncritical = \n')
    with pytest.raises(ConfigError) as err:
        config.load()
    msg = str(err.value)
    assert msg.startswith(f"{dirs['user']}:4: invalid TOML")
    assert "column" in msg and "\n" not in msg


def test_unknown_keys_are_reported_with_key_path_and_line(dirs: dict[str, Path]) -> None:
    write(dirs["user"], 'range = "1h"\ncolour = "red"\n')
    with pytest.raises(ConfigError, match=r"config.toml:2: colour: unknown setting"):
        config.load()

    write(
        dirs["user"],
        "# my rules\n[alerts.pay_success_rate]\ncritical = 0.98\ntreshold = 0.97\n",
    )
    with pytest.raises(ConfigError) as err:
        config.load()
    assert str(err.value).startswith(
        f"{dirs['user']}:4: alerts.pay_success_rate.treshold: unknown key"
    )

    write(
        dirs["user"],
        '[[panels]]\nname = "a"\nsql = """\nSELECT 1\n"""\n\n'
        '[[panels]]\nname = "b"\nsql = "SELECT 2"\nkind = "pie"\n',
    )
    with pytest.raises(ConfigError) as err:
        config.load()
    assert str(err.value).startswith(f"{dirs['user']}:10: panels[1].kind: panel kind must be")


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        ('refresh = "fast"\n', 1, "refresh: expected seconds, got 'fast'"),
        ("refresh = 0\n", 1, "refresh: must be between"),
        ("range = 5\n", 1, "range: expected a string, got an integer (5)"),
        ('range = "2h"\n', 1, "range: unknown time range '2h'"),
        ('display_zone = "Mars/Olympus"\n', 1, "display_zone: unknown time zone"),
        ("threads = true\n", 1, "threads: expected a whole number, got a boolean"),
        ('theme = "x"\n[alerts]\nstale = 5\n', 3, "alerts.stale: expected a table"),
        ('\n[alerts.stale]\ncritical = "soon"\n', 3, "alerts.stale.critical: expected seconds"),
        (
            "[alerts.pay_success_rate]\nwarning = 0.98\n",
            2,
            "alerts.pay_success_rate.warning: critical (0.99) must be below",
        ),
        (
            "[alerts.new]\nmeasure = 'pay.gmv'\ncondition = 'above'\n",
            1,
            "alerts.new: a rule needs a warning",
        ),
        ("[alerts.x]\ncritical = 1\n", 1, "alerts.x: a new rule needs 'measure'"),
        (
            "[alerts.x]\nmeasure = 'pay.gvm'\ncondition = 'above'\ncritical = 1\n",
            2,
            "alerts.x.measure: unknown measure 'pay.gvm'",
        ),
        (
            "[alerts.x]\nmeasure = 'pay.gmv'\ncondition = 'above'\ncritical = 1\nwindow = '5m'\n",
            5,
            "alerts.x.window: window must be one of",
        ),
        ("[alerts.stale]\nenabled = 'no'\n", 2, "alerts.stale.enabled: expected true or false"),
        ("[[alerts]]\nmeasure = 'pay.gmv'\n", 1, "alerts[0].name: every [[alerts]] needs a name"),
        ("[[panels]]\nname = 'p'\n", 1, "panels[0]: a panel needs 'sql'"),
        ("[[panels]]\nname = 'p'\nsql = 5\n", 3, "panels[0].sql: expected a string"),
        ("panels = 3\n", 1, "panels: expected [[panels]] tables"),
    ],
)
def test_wrong_types_and_values(dirs, text: str, line: int, expected: str) -> None:
    write(dirs["user"], text)
    with pytest.raises(ConfigError) as err:
        config.load()
    assert str(err.value) == f"{dirs['user']}:{line}: {expected}" or str(err.value).startswith(
        f"{dirs['user']}:{line}: {expected}"
    ), str(err.value)


def test_several_problems_are_counted_on_one_line(dirs) -> None:
    write(dirs["user"], 'range = 1\nrefresh = "x"\nfoo = 2\n')
    with pytest.raises(ConfigError) as err:
        config.load()
    assert str(err.value).endswith("(and 2 more problems)")
    assert "\n" not in str(err.value)


def test_bad_environment_variable_names_it(dirs, monkeypatch) -> None:
    monkeypatch.setenv("ECOTOP_REFRESH", "often")
    with pytest.raises(ConfigError, match=r"^ECOTOP_REFRESH='often': expected seconds"):
        config.load()


def test_bad_flag_names_it(dirs) -> None:
    with pytest.raises(ConfigError, match=r"^--range '3w': unknown time range"):
        config.load(flags={"range": "3w"})


def test_alert_rules_override_disable_and_add(dirs) -> None:
    write(dirs["system"], '[alerts.pay_success_rate]\ncritical = "98%"\nwarning = "99%"\n')
    write(
        dirs["user"],
        """
[alerts.pay_success_rate]
warning = false            # only the critical threshold of the system file stays

[alerts.stale]
critical = "10m"

[alerts.week_over_week]
enabled = false

[alerts.gmv_swing]
measure = "pay.gmv"
condition = "change"
warning = "30%"
critical = 60
window = "1h"
min_volume = 500
""",
    )
    s = config.load()
    psr = s.rule("pay_success_rate")
    assert (psr.critical, psr.warning, psr.window) == (0.98, None, "15m")
    assert s.rule("stale").critical == 600
    assert s.rule("week_over_week") is None
    g = s.rule("gmv_swing")
    assert (g.measure, g.condition, g.warning, g.critical, g.window, g.min_volume) == (
        "pay.gmv",
        "change",
        30.0,
        60,
        "1h",
        500,
    )
    assert [r.name for r in s.alerts][-1] == "gmv_swing"  # defaults first, new rules after


def test_alerts_as_an_array_of_tables(dirs) -> None:
    write(
        dirs["user"],
        '[[alerts]]\nname = "refunds"\nmeasure = "pay.refund_rate"\ncondition = "above"\n'
        "critical = 0.2\n\n"
        '[[alerts]]\nname = "stale"\ncritical = 120\n',
    )
    s = config.load()
    assert s.rule("refunds").critical == 0.2
    assert s.rule("stale").critical == 120


def test_panels_from_system_and_user_files(dirs) -> None:
    write(dirs["system"], '[[panels]]\nname = "a"\nsql = "SELECT 1"\n')
    write(dirs["user"], '[[panels]]\nname = "a"\nsql = "SELECT 2"\nkind = "number"\n')
    s = config.load()
    assert s.panels == (Panel("a", "SELECT 2", "number"),)


USER_FILE = """\
# my settings
range = "24h"
display_zone = "Europe/Berlin"

[alerts.pay_success_rate]
critical = 0.985

[[panels]]
name = "first"
sql = "SELECT 1"
"""


def test_add_and_remove_panel_keep_the_other_settings(dirs) -> None:
    path = write(dirs["user"], USER_FILE)
    sql = "SELECT merchant_id, sum(amount) AS gmv\nFROM transactions\nGROUP BY ALL\nORDER BY 2 DESC"
    assert config.add_panel(path, Panel("top merchants", sql, "table")) is None
    s = config.load()
    assert (s.range, s.display_zone, s.rule("pay_success_rate").critical) == (
        "24h",
        "Europe/Berlin",
        0.985,
    )
    assert [p.name for p in s.panels] == ["first", "top merchants"]
    assert s.panel("top merchants").sql == sql
    assert (path.with_name("config.toml.bak")).read_text() == USER_FILE

    # The same name replaces the panel in place.
    old = config.add_panel(path, Panel("first", "SELECT 42", "number"))
    assert old == Panel("first", "SELECT 1", "table")
    assert [(p.name, p.kind) for p in config.load().panels] == [
        ("first", "number"),
        ("top merchants", "table"),
    ]

    assert config.remove_panel(path, "first") is True
    assert config.remove_panel(path, "first") is False
    assert config.remove_panel(path, "top merchants") is True
    data = tomllib.loads(path.read_text())
    assert "panels" not in data
    assert data == {
        "range": "24h",
        "display_zone": "Europe/Berlin",
        "alerts": {"pay_success_rate": {"critical": 0.985}},
    }


def test_add_panel_creates_the_file_and_its_directory(dirs) -> None:
    path = dirs["tmp"] / "new" / "dir" / "config.toml"
    config.add_panel(path, Panel("n", "SELECT count(*) FROM users", "number"))
    assert config.panels_in(path) == [Panel("n", "SELECT count(*) FROM users", "number")]
    assert config.load(path).panels == (Panel("n", "SELECT count(*) FROM users", "number"),)


def test_add_panel_refuses_an_invalid_file_and_changes_nothing(dirs) -> None:
    broken = "range = \n"
    path = write(dirs["user"], broken)
    with pytest.raises(ConfigError, match=r"config.toml:1: invalid TOML"):
        config.add_panel(path, Panel("x", "SELECT 1"))
    assert path.read_text() == broken
    assert not path.with_name("config.toml.bak").exists()


def test_add_panel_keeps_keys_this_build_does_not_know(dirs) -> None:
    path = write(dirs["user"], "future_setting = [1, 2]\n[plugins.x]\nwhen = 2026-11-20\n")
    config.add_panel(path, Panel("x", "SELECT 1", "chart"))
    data = tomllib.loads(path.read_text())
    assert data["future_setting"] == [1, 2]
    assert str(data["plugins"]["x"]["when"]) == "2026-11-20"
    assert data["panels"] == [{"name": "x", "sql": "SELECT 1", "kind": "chart"}]


def test_panel_validation() -> None:
    with pytest.raises(ValueError, match="kind"):
        Panel("x", "SELECT 1", "pie")
    with pytest.raises(ValueError, match="name"):
        Panel(" ", "SELECT 1")
    with pytest.raises(ValueError, match="SQL"):
        Panel("x", "")
