"""``python -m stagecheck.demo``: run the demo staging endpoint (same flags as demo-server)."""

# Patch before anything else imports socket/ssl/threading; main() would otherwise do it late.
from gevent import monkey

monkey.patch_all()

from stagecheck.demo.server import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
