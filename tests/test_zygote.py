"""``grader.zygote.close_all_but``: the one rule by which a zygote's child keeps only the files it was given."""

import json
import os

import pytest

from grader.zygote import close_all_but

pytestmark = pytest.mark.sandbox


def open_files_after(keep_of):
    """Fork; in the child open four pipes, ``close_all_but(keep_of(ends))``; return the child's open files from 3."""
    report_r, report_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its report pipe is kept too, or it could not answer
        code = 1
        try:
            ends = [fd for _ in range(4) for fd in os.pipe()]
            keep = keep_of(ends)
            close_all_but([*keep, report_w])
            still = sorted(int(name) for name in os.listdir("/proc/self/fd"))
            os.write(report_w, json.dumps([ends, keep, still]).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(report_w)
    with os.fdopen(report_r) as report:
        text = report.read()
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    ends, keep, still = json.loads(text)
    return ends, keep, [fd for fd in still if fd >= 3]


def test_only_the_kept_files_stay_open_above_the_standard_streams():
    ends, keep, still = open_files_after(lambda ends: [ends[5], ends[1], ends[6]])  # unsorted, with gaps
    assert set(still) & set(ends) == set(keep)
    assert len(set(still) - set(keep)) <= 2  # the report pipe, and the folder the listing had open


def test_keeping_nothing_closes_everything_from_3():
    ends, _, still = open_files_after(lambda ends: [])
    assert not set(still) & set(ends)
