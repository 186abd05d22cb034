"""``python -m keymoments`` runs the command line."""

from keymoments.cli import main

main()
