from trackui.cli import main

raise SystemExit(main())
