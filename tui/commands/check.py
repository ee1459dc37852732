"""`ecotop check FILE`: the alert rules, headless, as a monitoring plugin (Nagios, Icinga, cron).

Exit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN; the worst rule wins (CRITICAL > WARNING >
UNKNOWN > OK). Anything that stops the check itself (how it was called: an unknown option, a
missing argument; a bad config file, a missing, locked or damaged database) is UNKNOWN (3), not the
usual 1 or 2, because that is the plugin convention (2 would read as CRITICAL).

stdout: a status line `ECOTOP CRITICAL - ... | perfdata`, then one line per rule and measure
(`OK pay.success_rate 99.51% (limit 99.50%)`); with --json one object. Messages go to stderr.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from ecotop.tui.commands.common import guarded

UNKNOWN = 3


def _status_line(state: str, summary: str, perf: str = "") -> str:
    return f"ECOTOP {state} - {summary}" + (f" | {perf}" if perf else "")


def _give_up(message: str, as_json: bool) -> None:
    """The check could not run: one line on stderr, a status on stdout, exit 3 (UNKNOWN)."""
    click.echo(f"ecotop: {message}", err=True)
    if as_json:
        out = {"state": "UNKNOWN", "exit_code": UNKNOWN, "error": message, "results": []}
        click.echo(json.dumps(out, ensure_ascii=False))
    else:
        click.echo(_status_line("UNKNOWN", message))
    sys.exit(UNKNOWN)


def _perfdata(results: list[Any]) -> str:
    """Nagios performance data for threshold rules: 'label'=value[UOM];warn;crit."""
    from ecotop.queries.measures import BY_ID

    parts = []
    for r in results:
        rule = r.rule
        if r.value is None or rule.condition == "change":
            continue
        kind = "seconds" if r.measure == "stale" else getattr(BY_ID.get(r.measure), "kind", "")
        scale, uom = (100.0, "%") if kind == "rate" else (1.0, "s" if kind == "seconds" else "")

        def rng(
            t: float | None, below: bool = rule.condition == "below", scale: float = scale
        ) -> str:
            if t is None:
                return ""
            return f"{t * scale:g}:" if below else f"{t * scale:g}"

        parts.append(
            f"'{r.measure}'={float(r.value) * scale:.6g}{uom};{rng(rule.warning)};{rng(rule.critical)}"
        )
    return " ".join(parts)


def _lines(results: list[Any], against: str = "a week earlier") -> list[str]:
    """One line per result, except that the OK results of a `*` rule share one line."""
    from ecotop.queries.alerts import ALL, State

    out: list[str] = []
    done: set[str] = set()
    for r in results:
        if r.rule.measure != ALL:
            out.append(r.line())
            continue
        if r.state != State.OK:
            out.append(r.line())
        if r.rule.name in done:
            continue
        done.add(r.rule.name)
        oks = [x for x in results if x.rule.name == r.rule.name and x.state == State.OK]
        judged = sum(1 for x in oks if x.change is not None)
        lim = r.rule.critical if r.rule.critical is not None else r.rule.warning
        out.append(
            f"OK * {judged} measure{'s' if judged != 1 else ''} within ±{lim:g}% of {against} "
            f"({r.rule.window}), {len(oks) - judged} not compared (too little volume)"
        )
    return out


class _PluginCommand(click.Command):
    """A click command whose usage errors are UNKNOWN (exit 3) with a status line on stdout."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        as_json = "--json" in args
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            why = exc.format_message().splitlines()[0] if exc.format_message() else "usage error"
            if as_json:
                out = {"state": "UNKNOWN", "exit_code": UNKNOWN, "error": why, "results": []}
                click.echo(json.dumps(out, ensure_ascii=False))
            else:
                click.echo(_status_line("UNKNOWN", why))
            exc.exit_code = UNKNOWN  # type: ignore[misc]  # click prints usage and message
            raise


@click.command(cls=_PluginCommand)
@click.argument("file", type=click.Path(path_type=Path, readable=False))
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON object.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path),
    help="Read settings from this file instead of the user config file.",
)
@click.option(
    "--live",
    is_flag=True,
    help="Judge the data as live: windows end at the wall clock and the stale rule applies.",
)
@click.option(
    "--rule",
    "only",
    multiple=True,
    metavar="NAME",
    help="Check only this rule (repeatable); see the README for the rule names.",
)
@click.option(
    "--baseline",
    type=click.Choice(["week", "day", "previous"], case_sensitive=False),
    default="week",
    show_default=True,
    help="What change rules compare with: the same window a week or a day earlier, or the window "
    "before (the default keeps the rules' meaning).",
)
@guarded
def check(
    file: Path,
    as_json: bool,
    config_file: Path | None,
    live: bool,
    only: tuple[str, ...],
    baseline: str,
) -> None:
    """Judge the alert rules on FILE; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN."""
    from ecotop.queries.errors import StoreError

    try:
        from ecotop.queries import settings as config

        settings = config.load(config_file)
        rules = list(settings.alerts)
        if only:
            names = {r.name for r in rules}
            missing = [n for n in only if n not in names]
            if missing:
                raise config.ConfigError(
                    f"no rule {', '.join(map(repr, missing))}; rules: {', '.join(sorted(names))}"
                )
            rules = [r for r in rules if r.name in only]
        from ecotop.queries.files import open_db

        db = open_db(file, limits=settings.limits())
    except StoreError as exc:
        _give_up(str(exc), as_json)
        return
    from ecotop.queries.alerts import State, evaluate, worst

    now = datetime.now().astimezone()
    try:
        cur = db.cursor()
        results = evaluate(cur, rules, live=live, now=now, baseline=baseline.lower())
        cur.close()
    except StoreError as exc:
        _give_up(str(exc), as_json)
        return
    except Exception as exc:  # a plugin must say UNKNOWN, never die with 1 (read as WARNING)
        first = str(exc).splitlines()[0] if str(exc) else ""
        _give_up(f"{file}: the check failed: {type(exc).__name__}: {first}", as_json)
        return
    finally:
        db.close()

    state = worst(results)
    counts = {s: sum(1 for r in results if r.state == s) for s in State}
    if as_json:
        out = {
            "state": state.name,
            "exit_code": int(state),
            "file": str(file),
            "live": live,
            "baseline": baseline.lower(),
            "checked_at": now.isoformat(timespec="seconds"),
            "counts": {s.name: n for s, n in counts.items()},
            "results": [r.to_dict() for r in results],
        }
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        bad = [r for r in results if r.state != State.OK]
        bad.sort(key=lambda r: -r.state.severity)
        if bad:
            head = bad[0]
            summary = f"{head.measure} {head.message}"
            if len(bad) > 1:
                summary += f" (+{len(bad) - 1} more not OK)"
        else:
            summary = f"{len(results)} checks OK"
        from ecotop.queries.alerts.evaluation import AGAINST

        against = AGAINST.get(baseline.lower(), "a week earlier")
        lines = [_status_line(state.name, summary, _perfdata(results)), *_lines(results, against)]
        click.echo("\n".join(lines))
    sys.exit(int(state))
