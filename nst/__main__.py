from nst.cli import main

raise SystemExit(main())
