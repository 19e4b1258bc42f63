"""The table classes cost pydantic nothing until something validates one."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# A fresh interpreter: by the time this test runs, another may have validated a row.
PROBE = """
import datetime
from core.models import TableRow
tables = TableRow.__subclasses__()
built = [t.__name__ for t in tables if type(t.__pydantic_validator__).__name__ != "MockValSer"]
print(len(tables), built)
from core.models import MentionRow
row = MentionRow.model_validate(
    {"platform": "x", "external_id": "1", "text": "hi",
     "created_at": "2026-03-02T10:00:00Z", "fetched_at": "2026-03-02T10:00:01Z"}
)
print(row.external_id, row.created_at.year)
"""


def test_no_table_builds_its_validator_at_import_and_one_still_validates_when_asked() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert done.stdout.splitlines() == ["12 []", "1 2026"]
