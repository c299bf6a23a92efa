"""A fresh process for bench/reads.py: its first two saves of one model, timed.

``python bench/firstsave.py MODEL`` (``live`` or ``plain``), with the environment of
bench/writer.py (BENCH_DB, BENCH_LAYER, BENCH_REDIS). Django is set up and one query is made on
each model's table (opening the database connection, the same for both models); then a new row
is made and saved (an INSERT, the process's first save) and saved again (an UPDATE). Prints
``{"first": s, "second": s}`` and exits at once, without waiting for live_admin's sender.
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

from benchapp.models import Item, Plain  # noqa: E402


def main() -> None:
    model = {"live": Item, "plain": Plain}[sys.argv[1]]
    Item.objects.exists()
    Plain.objects.exists()
    row = model(name="first save", n=0)
    times = []
    for n in (1, 2):
        began = time.perf_counter()
        row.save()
        times.append(time.perf_counter() - began)
        row.n = n
    sys.stdout.write(json.dumps({"first": times[0], "second": times[1]}) + "\n")
    sys.stdout.flush()
    os._exit(0)  # a refused Redis would otherwise hold the exit for FLUSH_TIMEOUT


if __name__ == "__main__":
    main()
