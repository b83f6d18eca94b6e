"""One row per learner and assignment saying how their grading went, in the gradebook's own database.

nbgrader's tables hold scores; this table, ``grading_status``, holds what a batch needs to be stopped and rerun
safely: ``queued`` and ``grading`` rows are unfinished (a rerun grades them again), the others are final. Each row
keeps the ``fingerprint`` of the submission it graded (``grader.batch.fingerprint``), so that a rerun can tell a
learner whose notebook has changed (a late or corrected submission) from one whose result still stands.
"""

import datetime

import sqlalchemy as sa

FINAL = ("graded", "flagged", "missing", "invalid", "too large", "timed out", "error")
# A rerun leaves these alone while the submission is unchanged; ``error`` (the grader's failure) is always retried.
# ``flagged`` is graded, with its scores in the gradebook, and held for the instructor to review (``grader.verify.flag``).
SETTLED = ("graded", "flagged", "missing", "invalid", "too large", "timed out")
_metadata = sa.MetaData()
TABLE = sa.Table(
    "grading_status", _metadata,
    sa.Column("student", sa.String(128), primary_key=True),
    sa.Column("assignment", sa.String(128), primary_key=True),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("message", sa.Text, nullable=False, default=""),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("seconds", sa.Float),
    sa.Column("updated", sa.DateTime, nullable=False),
    sa.Column("fingerprint", sa.String(64)),
)


class StatusBook:
    """Read and write ``grading_status`` rows in the database at ``db_url`` (the gradebook's)."""

    def __init__(self, db_url):
        self.engine = sa.create_engine(db_url)
        _metadata.create_all(self.engine)
        columns = {column["name"] for column in sa.inspect(self.engine).get_columns(TABLE.name)}
        if "fingerprint" not in columns:  # a gradebook from before fingerprints: add the column, rows keep NULL
            with self.engine.begin() as connection:
                connection.execute(sa.text(f"ALTER TABLE {TABLE.name} ADD COLUMN fingerprint VARCHAR(64)"))

    def get(self, student, assignment):
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(TABLE).where(TABLE.c.student == student,
                                                            TABLE.c.assignment == assignment)).mappings().first()
        return dict(row) if row else None

    def set(self, student, assignment, status, message="", seconds=None, attempt=False, fingerprint=None):
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        with self.engine.begin() as connection:
            key = (TABLE.c.student == student) & (TABLE.c.assignment == assignment)
            row = connection.execute(sa.select(TABLE.c.attempts).where(key)).first()
            attempts = (row.attempts if row else 0) + (1 if attempt else 0)
            values = dict(status=status, message=message, seconds=seconds, attempts=attempts, updated=now,
                          fingerprint=fingerprint)
            if row:
                connection.execute(sa.update(TABLE).where(key).values(**values))
            else:
                connection.execute(sa.insert(TABLE).values(student=student, assignment=assignment, **values))

    def all(self, assignment):
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(TABLE).where(TABLE.c.assignment == assignment)
                                      .order_by(TABLE.c.student)).mappings().all()
        return [dict(row) for row in rows]

    def close(self):
        self.engine.dispose()
