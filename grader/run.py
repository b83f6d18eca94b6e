"""Grade one learner's submission of one assignment, whatever the submission does.

``grade_submission`` takes the learner's folder (``<inbox>/<student>/<assignment>/``), rebuilds each notebook from
the release (``grader.intake``), runs the real ``nbgrader autograde`` for that learner alone (in the sandbox when
``sandboxed``), under ``Limits``, and leaves exactly one gradebook submission for them. A submission that cannot be
graded (missing, invalid, too large, timed out) gets an empty submission, so it scores zero, and a feedback file
that says why. It never touches another learner's rows or files.

**The inbox is only read.** Any folder can be the inbox, ``submitted/`` included (where ``nbgrader collect`` puts
submissions): the learner's notebook is read into memory, and what nbgrader grades is the rebuilt copy written to
``.grader/intake/<student>/<assignment>/`` (nbgrader's ``submitted_directory`` for this run). ``check_inbox``
refuses an inbox inside a folder that grading empties (``.grader/``, ``autograded/``, ``feedback/``).
The models the hidden tests keep go to ``.grader/captures/<assignment>/<student>/``, never into ``autograded/``,
so ``nbgrader generate_feedback`` cannot hand them to learners.
"""

import contextlib
import html
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from grader import intake, sandbox
from grader.limits import Limits
from grader.zygote import Zygote, ZygoteOfRoot

ROOT = Path(__file__).resolve().parents[1]
GRADER_FOLDER = ".grader"  # everything grading writes that is not nbgrader's own: secret, intake, captures
INTAKE = f"{GRADER_FOLDER}/intake"  # nbgrader's submitted_directory for python -m grader: rebuilt copies only
# What nbgrader's exchange puts beside a collected notebook; release_feedback needs both in feedback/.
EXCHANGE_FILES = ("timestamp.txt", "submission_secret.txt")
CAPTURES = "verify"  # the folder, relative to the kernel's working folder, where hidden tests keep models
EMPTIED = (GRADER_FOLDER, "autograded", "feedback")  # folders whose learner subfolders grading deletes


def grader_folder(course):
    """``<course>/.grader``, created readable by its owner only: it holds the secret, intake copies and captures."""
    folder = Path(course) / GRADER_FOLDER
    folder.mkdir(mode=0o700, exist_ok=True)
    os.chmod(folder, 0o700)
    return folder


def captures_folder(course, assignment, student):
    """Where the models kept by one learner's hidden tests are kept for ``grader.verify``."""
    return Path(course) / GRADER_FOLDER / "captures" / assignment / student


def rebuilt_notebooks(course, assignment, student):
    """The learner's notebooks as intake rebuilt them (what nbgrader grades, and what the judge runs), sorted."""
    return sorted((Path(course) / INTAKE / student / assignment).glob("*.ipynb"))


def check_inbox(course, inbox):
    """Refuse an inbox that grading would delete; the inbox itself is never written.

    Raises
    ------
    ValueError
        If ``inbox`` is missing, or lies inside ``.grader/``, ``autograded/`` or ``feedback/`` of the course.
    """
    inbox, course = Path(inbox).resolve(), Path(course).resolve()
    if not inbox.is_dir():
        raise ValueError(f"The inbox {inbox} is not a folder. Give the folder that holds one folder per learner, "
                         "<student>/<assignment>/<notebook>.ipynb (for example submitted/ after nbgrader collect).")
    for name in EMPTIED:
        emptied = course / name
        if inbox == emptied or emptied in inbox.parents:
            raise ValueError(f"The inbox {inbox} is inside {emptied}, which grading empties: learners' work there "
                             "would be lost. Copy the submissions to another folder (e.g. submitted/) and grade that.")


def nbgrader_environment(extra=()):
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env.update(extra)
    return env


def released_notebooks(course, assignment):
    folder = Path(course) / "exercises" / assignment
    notebooks = sorted(folder.glob("*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"No released notebooks in {folder}: run `nbgrader generate_assignment {assignment}`.")
    return notebooks


def _empty_submission(db_url, assignment, student):
    """Replace the learner's submission with an empty one: every cell scores zero."""
    with Gradebook(db_url) as gradebook:
        gradebook.update_or_create_student(student)
        try:
            gradebook.remove_submission(assignment, student)
        except MissingEntry:
            pass
        gradebook.add_submission(assignment, student)


def _feedback_note(course, student, assignment, notebooks, status, message):
    folder = Path(course) / "feedback" / student / assignment
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for notebook in notebooks:
        (folder / f"{notebook.stem}.html").write_text(
            f"<!doctype html><meta charset='utf-8'><title>{html.escape(assignment)}</title>"
            f"<h1>{html.escape(assignment)}: not graded ({html.escape(status)})</h1><p>{html.escape(message)}</p>"
            "<p>Every task scores 0. Ask your instructor if you think this is wrong.</p>\n")


def _copy_plain_files(source, target):
    """Copy the regular files directly in ``source``; links and folders (a learner may have made them) are left."""
    target.mkdir(parents=True, exist_ok=True)
    for item in source.iterdir():
        if stat.S_ISREG(os.lstat(item).st_mode):
            shutil.copyfile(item, target / item.name, follow_symlinks=False)


def _notes_cell(notes):
    text = "**Notes from the grader**\n\n" + "\n".join(f"- {note}" for note in notes)
    return nbformat.v4.new_markdown_cell(text, metadata={"grader_notes": True})


# This worker's zygote for nbgrader itself (``grader.zygote``): it imports nbgrader once, as the instructor.
NBGRADER_ZYGOTE = Zygote("grader.run", nbgrader_environment)
NBGRADER_MODULES = ("nbgrader.apps.nbgraderapp", "nbgrader.converters.autograde", "nbclient", "jupyter_client.manager",
                    "grader.execute", "helpers.nbgrader_plugins", "sqlalchemy.dialects.sqlite",
                    "sqlalchemy.dialects.postgresql", "psycopg")


def _nbgrader(course, arguments, env, seconds, sandboxed):
    """Run ``nbgrader ARGUMENTS`` in ``course``: (its exit status, or ``None`` when stopped after ``seconds``; its
    log).

    Sandboxed, nbgrader is a fork of ``NBGRADER_ZYGOTE`` (nbgrader's import costs about 2.5 s of CPU a learner),
    the first process of mount, PID and network namespaces of its own, with only loopback
    (``grader.zygote.run_in_new_namespaces``, as ``grader.sandbox.NAMESPACES`` does); where no zygote can start it,
    it is a process of its own under ``unshare``. Not sandboxed, a plain process."""
    if sandboxed:
        try:
            return NBGRADER_ZYGOTE.run({"cwd": str(course), "arguments": arguments, "env": env}, seconds)
        except OSError:
            pass  # no zygote here: nbgrader imports itself
    command = [sys.executable, "-m", "nbgrader", *arguments]
    if sandboxed:
        command = [*sandbox.NAMESPACES, *command]
    process = subprocess.Popen(command, cwd=course, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    try:
        log, _ = process.communicate(timeout=seconds)
        return process.returncode, log
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return None, ""


def _nbgrader_forked(request, fds):
    """``nbgrader ARGUMENTS`` as the zygote's child: pid 1 of namespaces of its own, in the course folder."""
    from grader.zygote import run_in_new_namespaces

    def autograde(request):
        from nbgrader.apps.nbgraderapp import NbGraderApp

        os.chdir(request["cwd"])
        sys.argv = ["nbgrader", *request["arguments"]]
        NbGraderApp.launch_instance(argv=request["arguments"])

    run_in_new_namespaces(request, fds, autograde, loopback=True, output="both")


def _kernel_zygote(scratch_root):
    """The kernel zygote for ``scratch_root`` (``grader.kernel_launcher``; ``kernel_zygote``, not started).

    It imports what a learner's kernel imports, as root, with only the kernel's environment variables and the
    sandbox's Keras home (``sandbox.keras_home``: the data sets, read-only; each kernel then takes its own), and
    only forks. Its socket (``.listen``, once started) lies in a folder that only root can enter."""
    home = str(sandbox.keras_home(scratch_root))
    environment = {key: value for key, value in nbgrader_environment().items() if key in sandbox.KERNEL_ENV}
    environment.update(HOME=home, KERAS_HOME=home)
    return Zygote("grader.kernel_launcher", lambda: environment, listens=True)


kernel_zygote = ZygoteOfRoot(_kernel_zygote)  # this worker's kernel zygote, for every scratch root


def grade_submission(course, assignment, student, inbox, *, db_url, limits=Limits(), scratch_root=None,
                     sandboxed=True, after_intake=None):
    """Grade ``student``'s submission of ``assignment``; return a dict with its status, message and seconds.

    ``after_intake()`` is called once the rebuilt notebooks are in ``INTAKE``, before nbgrader starts."""
    course, start = Path(course), time.perf_counter()
    released = released_notebooks(course, assignment)
    intake_folder = course / INTAKE / student / assignment
    autograded = course / "autograded" / student / assignment
    captures = captures_folder(course, assignment, student)
    source = Path(inbox) / student / assignment

    def finish(status, message):
        if status != "graded":
            shutil.rmtree(autograded, ignore_errors=True)
            _empty_submission(db_url, assignment, student)
            _feedback_note(course, student, assignment, released, status, message)
            for name, data in exchange_files.items():  # so that `nbgrader release_feedback` hands the note back
                (course / "feedback" / student / assignment / name).write_bytes(data)
        return {"student": student, "assignment": assignment, "status": status, "message": message,
                "seconds": round(time.perf_counter() - start, 1)}

    # Read everything from the inbox first; only then clear what an earlier grading of this learner left.
    notes, rebuilt_notebooks, refused = [], {}, None
    try:
        for release in released:
            path, found_notes = intake.find_notebook(source, release.name)
            rebuilt = intake.rebuild(intake.load(path, limits), nbformat.read(release, as_version=4))
            notes += found_notes + rebuilt.notes
            rebuilt_notebooks[release.name] = rebuilt.notebook
    except intake.Refused as error:
        refused = error
    exchange_files = {name: (source / name).read_bytes() for name in EXCHANGE_FILES if (source / name).is_file()}
    for folder in (intake_folder, autograded, captures, course / "feedback" / student / assignment):
        shutil.rmtree(folder, ignore_errors=True)
    if refused:
        return finish(refused.status, refused.message)
    intake_folder.mkdir(parents=True)
    for name, notebook in rebuilt_notebooks.items():
        if notes:
            notebook.cells.insert(0, _notes_cell(notes))
        nbformat.write(notebook, intake_folder / name)
    for name, data in exchange_files.items():
        (intake_folder / name).write_bytes(data)
    if after_intake is not None:
        after_intake()

    extra = limits.to_env()
    arguments = ["autograde", assignment, "--student", student, "--force", f"--db={db_url}",
                 f"--Execute.timeout={limits.cell_seconds}", f"--CourseDirectory.submitted_directory={INTAKE}"]
    with contextlib.ExitStack() as groups:  # the kernel's cgroups, emptied and removed once autograde has ended
        if sandboxed:
            scratch_root = Path(scratch_root)
            extra.update(sandbox.prepare(scratch_root))
            extra["GRADER_KERNEL_FOLDER"] = kernel_name = sandbox.private_name(student, assignment)
            zygote = kernel_zygote(scratch_root)
            zygote.start_soon()  # its import runs while nbgrader starts
            extra["GRADER_KERNEL_ZYGOTE"] = zygote.listen
            extra["GRADER_CGROUPS"] = os.pathsep.join(map(str, groups.enter_context(
                sandbox.learner_cgroups(kernel_name, limits))))
        try:
            returncode, log = _nbgrader(course, arguments, nbgrader_environment(extra), limits.notebook_seconds,
                                        sandboxed)
        finally:
            groups.close()  # first: nothing of the learner's runs on while their captures are copied
            kept = sandbox.kernel_folder(scratch_root, kernel_name) if sandboxed else autograded
            if (kept / CAPTURES).is_dir() and not (kept / CAPTURES).is_symlink() and autograded.is_dir():
                _copy_plain_files(kept / CAPTURES, captures)
            shutil.rmtree(autograded / CAPTURES, ignore_errors=True)
            if sandboxed:
                shutil.rmtree(kept, ignore_errors=True)
    if returncode is None:
        return finish("timed out", f"Grading stopped after {limits.notebook_seconds} s, the limit for a whole "
                                   "notebook. Make sure every cell finishes, and train for fewer epochs.")
    if returncode != 0 or not all((autograded / r.name).is_file() for r in released):
        return finish("error", "nbgrader could not grade this submission; the instructor has the log.\n"
                               + log[-3000:])
    return finish("graded", " ".join(notes))


if __name__ == "__main__":  # NBGRADER_ZYGOTE: python -m grader.run --zygote FD
    import importlib

    from grader.zygote import serve

    for module in NBGRADER_MODULES:
        importlib.import_module(module)
    serve(int(sys.argv[2]), _nbgrader_forked, fds_per_request=2)
