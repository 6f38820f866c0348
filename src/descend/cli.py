"""The ``descend`` command: a thin adapter over the public API."""

from __future__ import annotations

try:
    import click
except ImportError as error:  # pragma: no cover - click comes with the cli extra
    raise SystemExit("the descend command needs click: pip install 'descend[cli]'") from error

from . import demo as demo_module


@click.group()
@click.version_option(package_name="descend")
def main() -> None:
    """Gradient-based optimisation you can read."""


@main.command()
def demo() -> None:
    """Run every method on the classic problems and print a table of the results."""
    for line in demo_module.table(demo_module.run()):
        click.echo(line)


if __name__ == "__main__":
    main()
