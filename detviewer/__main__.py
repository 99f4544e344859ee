from detviewer.cli import main

raise SystemExit(main())
