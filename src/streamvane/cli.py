"""The ``streamvane`` command line. The only place that constructs :class:`Settings`.

Subcommands import their heavy dependencies lazily so ``streamvane --help`` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from pydantic import ValidationError

from streamvane.errors import ConfigError, TransientError

Handler = Callable[[argparse.Namespace], int]


def _settings_command(args: argparse.Namespace) -> int:
    import orjson

    from streamvane.settings import Settings

    sys.stdout.write(orjson.dumps(Settings().model_dump(mode="json"), option=orjson.OPT_INDENT_2).decode())
    sys.stdout.write("\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from streamvane.settings import describe_settings

    parser = argparse.ArgumentParser(
        prog="streamvane",
        description="Genesys Cloud events -> per-queue interval KPI feeds.",
        epilog="Settings (environment variables):\n" + describe_settings(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    show = sub.add_parser("settings", help="print the effective settings as JSON")
    show.set_defaults(handler=_settings_command)
    _register_extra(sub)
    return parser


def _register_extra(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Subcommands owned by other modules register themselves here."""
    from streamvane.commands import register_all

    register_all(sub)


def main(argv: Sequence[str] | None = None) -> int:
    from streamvane.runtime import tune_gc_for_throughput

    args = build_parser().parse_args(argv)
    tune_gc_for_throughput()
    handler: Handler = args.handler
    try:
        return handler(args)
    except BrokenPipeError:
        return _stdout_closed()
    except KeyboardInterrupt:
        sys.stderr.write("streamvane: interrupted\n")
        return 130
    except ConfigError as exc:
        sys.stderr.write(f"streamvane: {exc}\n")
        return 2
    except TransientError as exc:
        sys.stderr.write(f"streamvane: {exc} (try again once it is back)\n")
        return 75
    except ValidationError as exc:
        source = os.environ.get("STREAMVANE_SETTINGS_FILE") or "environment"
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<top>'}: {err['msg']}"
            for err in exc.errors(include_url=False)
        )
        sys.stderr.write(f"streamvane: invalid settings ({source}): {problems}\n")
        return 2


def _stdout_closed() -> int:
    """The reader of our output went away (``streamvane compute … | head``): end quietly.

    Python would otherwise report the broken pipe again while flushing stdout at exit.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 0
