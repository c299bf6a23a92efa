"""A writer process for the bench: saves on command, one line in, one JSON line out.

Commands: ``save MODEL`` (one save; answers its commit's monotonic time); ``saves MODEL,...
SINGLES BATCHES SIZE [PAUSE]`` (timed saves, the models taking turns); ``burst COUNT
SECONDS`` (COUNT saves of Item spread evenly); ``flush`` (wait until live_admin's sender has
sent everything).
"""

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchproject.settings")

import django

django.setup()

from django.db import transaction  # noqa: E402

import benchapp.consumers  # noqa: E402, F401  (connects DCRF's observer, as a server would)
from benchapp.models import Item  # noqa: E402
from benchapp.views import MODELS, timed_saves  # noqa: E402
from live_admin.delivery.sender import sender  # noqa: E402


def main() -> None:
    for line in sys.stdin:
        command, *args = line.split()
        if command == "save":
            with transaction.atomic():
                MODELS[args[0]].objects.create(name="fan-out")
            out = {"committed": time.monotonic()}
        elif command == "saves":
            singles, batches, size = map(int, args[1:4])
            pause = float(args[4]) if len(args) > 4 else 0.0
            out = timed_saves(args[0].split(","), singles, batches, size, pause)
        elif command == "burst":
            count, seconds = int(args[0]), float(args[1])
            start = time.monotonic()
            for i in range(count):
                Item.objects.create(name=f"burst {i}")
                delay = start + seconds * (i + 1) / count - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            out = {"took": time.monotonic() - start}
        elif command == "flush":
            out = {"flushed": sender.flush(30), "stats": dict(sender.stats)}
        else:
            out = {"error": command}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
