"""A mail worker process for the kill tests: sends rounds until it is killed.

``python -m tests.helpdesk.mail.worker <database url> <data dir>`` with the
mail settings as JSON on standard input. It prints ``ready`` once it runs.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from engine.db import create_db_engine, make_session_factory
from plugins.helpdesk.mail.sender import Sender
from plugins.helpdesk.mail.settings import MailSettings


def main(url: str, data_dir: str) -> None:
    settings = MailSettings.model_validate_json(sys.stdin.read())
    sender = Sender(make_session_factory(create_db_engine(url)), settings, Path(data_dir))
    print("ready", flush=True)
    while True:
        if not sender.round().claimed:
            time.sleep(0.05)


if __name__ == "__main__":
    main(*sys.argv[1:])
