"""``python -m keymoments`` runs the command line."""

from keymoments.cli import main

if __name__ == "__main__":
    main()
