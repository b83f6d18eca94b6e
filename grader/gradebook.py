"""Write the judge's verdicts into nbgrader's gradebook, so that every nbgrader tool shows the final grade.

A verdict sets the graded cell's manual score (nbgrader's ``score`` is the manual score when there is one): its
points when the judge passed it, 0 when not, whatever the kernel scored. The reason goes into the comment on the
learner's answer cell, which ``nbgrader generate_feedback`` and formgrader show. ``nbgrader export``,
``python -m grader export`` and formgrader then agree.
"""

from nbgrader.api import Gradebook, MissingEntry

PREFIX = "Judged outside your notebook"


def record(db_url, assignment, notebook, student, verdicts):
    """Record ``verdicts`` (``grader.judge.Verdict``) for one learner; return one row per verdict."""
    rows = []
    with Gradebook(db_url) as gradebook:
        for verdict in verdicts:
            try:
                grade = gradebook.find_grade(verdict.grade_id, notebook, assignment, student)
            except MissingEntry:
                continue
            in_kernel = grade.auto_score
            judged = float(grade.max_score) if verdict.passed else 0.0
            grade.manual_score = judged
            kernel_passed = in_kernel is not None and in_kernel >= grade.max_score
            note = None
            if not verdict.passed:
                note = f"{PREFIX}: {verdict.grade_id} scores 0. {verdict.message}"
            elif not kernel_passed:
                note = (f"{PREFIX}: {verdict.grade_id} is correct on the judge's own inputs and keeps its points, "
                        "although it failed in your notebook (see its output there).")
            if note:
                try:
                    comment = gradebook.find_comment(verdict.answer_id, notebook, assignment, student)
                    if note not in (comment.manual_comment or ""):
                        comment.manual_comment = "\n\n".join(filter(None, [comment.manual_comment, note]))
                except MissingEntry:
                    pass
            rows.append({"grade_id": verdict.grade_id, "in_kernel": in_kernel, "judged": judged,
                         "changed": judged != in_kernel, "message": verdict.message})
        gradebook.db.commit()
    return rows
