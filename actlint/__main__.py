from actlint.cli import main

raise SystemExit(main())
