"""One module per command group; each defines `app = typer.Typer(help=...)`."""
