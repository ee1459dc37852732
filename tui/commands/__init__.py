"""One module per `ecotop` subcommand, imported lazily by tui.cli."""
