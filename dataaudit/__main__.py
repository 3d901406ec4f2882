from dataaudit.cli import entry

raise SystemExit(entry())
