"""A throwaway PostgreSQL server for the grading tests and the bench, from Debian's ``postgresql`` package.

``with temporary_server() as db_url:`` creates a cluster in a fresh folder, starts it listening on a Unix socket
only (no TCP port, so nothing else on the machine can reach it, and it keeps working inside the grader's network
namespace), creates the database ``gradebook``, yields an SQLAlchemy URL for it, and removes it all afterwards.
PostgreSQL refuses to run as root, so the server runs as the ``postgres`` user the package creates.
"""

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path


def server_bin():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: run `sh tools/install_grading.sh` (Debian's postgresql).")
    return Path(found[-1]).parent


def _as_postgres(*command):
    user = pwd.getpwnam("postgres")

    def drop():
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)

    return subprocess.run([str(c) for c in command], check=True, capture_output=True, text=True,
                          preexec_fn=drop if os.geteuid() == 0 else None, cwd="/")


@contextmanager
def temporary_server():
    bin_dir = server_bin()
    folder = Path(tempfile.mkdtemp(prefix="course-postgres-"))
    user = pwd.getpwnam("postgres")
    os.chown(folder, user.pw_uid, user.pw_gid)
    data, sockets = folder / "data", folder / "sockets"
    try:
        _as_postgres(bin_dir / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync")
        _as_postgres("mkdir", "-m", "700", sockets)
        _as_postgres(bin_dir / "pg_ctl", "-D", data, "-w", "-l", folder / "server.log", "-o",
                     f"-k {sockets} -c listen_addresses='' -c fsync=off -c max_connections=100", "start")
        _as_postgres(bin_dir / "createdb", "-h", sockets, "-U", "postgres", "gradebook")
        yield f"postgresql+psycopg://postgres@/gradebook?host={sockets}"
    finally:
        if (data / "postmaster.pid").exists():
            _as_postgres(bin_dir / "pg_ctl", "-D", data, "-m", "immediate", "stop")
        shutil.rmtree(folder, ignore_errors=True)
