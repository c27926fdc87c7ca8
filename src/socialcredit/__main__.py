"""``python -m socialcredit`` runs the CLI."""

from socialcredit.cli import main

main()
