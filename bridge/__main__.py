from bridge.entry import main

raise SystemExit(main())
