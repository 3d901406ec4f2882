from dataaudit.cli import main

raise SystemExit(main())
