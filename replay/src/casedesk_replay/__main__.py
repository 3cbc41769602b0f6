import sys

from casedesk_replay.cli import main

sys.exit(main())
