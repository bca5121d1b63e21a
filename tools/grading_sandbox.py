"""Run one untrusted lab notebook in a sandbox and answer the grader's questions about it.

The grader (``tools/labs_grade.py``, the instructor's process) never runs a submission's
code itself and never reads a score from it. For each submission it starts::

    grader (instructor) --pipes--> [unshare: new mount, PID and network namespaces]
                                     supervisor (root, PID 1 of the namespace)
                                       runner (unprivileged user medcnn-grader-<slot>)
                                         Jupyter kernel (the submission's code)

- **The runner** executes the notebook's cells in a kernel (a time limit per cell that
  interrupts and goes on, output capped), then answers the grader's requests: the value of a
  notebook variable, an attribute, an item, or a call of one of the notebook's functions on
  arguments the grader sends. Every answer is *data* (numbers, strings, lists, dicts, NumPy
  arrays, pandas tables) encoded as JSON; anything else comes back as a handle the grader
  can ask further about. The grader decodes it with :func:`decode` (JSON and NumPy/pandas
  constructors only: no pickle, nothing executed) and runs the hidden tests **in its own
  process**: the submission can choose what its variables hold, as any student can, but
  never sees the hidden tests or their expected values and cannot touch the scoring.
- **Run as root** (CI, Colab, a container), the runner is a separate user (one per parallel
  slot, created with ``useradd`` on first use) in a private scratch folder (mode 0700), and
  when the kernel allows namespaces (``unshare``): the course's folders except ``.venv`` and
  ``code`` (lab sources, solutions, tools, ``_build``), the submissions folder and the
  grader's output are covered by empty read-only mounts, ``/tmp``, ``/var/tmp`` and
  ``/dev/shm`` are private, ``/proc`` shows only the sandbox's processes, there is no
  network, and when the supervisor ends the kernel kills every process of the namespace.
  Without namespaces (some containers), file permissions alone protect: the user can read
  what the world can read; the grader says so when it starts.
- **Not root**, the runner is the instructor's own user: the grader then uses a user
  namespace if the system allows one (the same mounts, PID and network namespaces) and says
  that the submission still has the instructor's rights on every file not covered.

This file is also the supervisor's and runner's program (``--supervise``, ``--run``).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import pathlib
import pwd
import resource
import select
import shutil
import signal
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
MAX_REPLY_BYTES = 20_000_000  # one answer of the sandbox (a variable's value), JSON
MAX_ELEMENTS = 2_000_000  # numbers in one decoded array or table
USER_PREFIX = "medcnn-grader-"
SCRATCH_MOUNT = "/tmp/submission"  # where the scratch folder appears inside the namespaces
KEPT_IN_ROOT = (".venv", "code")  # the course folders a submission needs (the Python, medcnn)


class SandboxError(Exception):
    """The sandbox could not run or answer; the message says why (it scores the questions 0)."""


class RemoteError(Exception):
    """The submission's own code raised while the grader asked for a value or called a function."""


# ---------------------------------------------------------------- what the system allows


def is_root() -> bool:
    return os.geteuid() == 0


_NAMESPACES: dict[bool, bool] = {}


def namespaces_available(as_root: bool | None = None) -> bool:
    """Whether ``unshare`` can make mount, PID and network namespaces here (cached)."""
    as_root = is_root() if as_root is None else as_root
    if as_root not in _NAMESPACES:
        command = ["unshare", "--mount", "--pid", "--net", "--fork", "--kill-child", "--propagation", "private"]
        if not as_root:
            command[1:1] = ["--user", "--map-root-user"]
        try:
            result = subprocess.run([*command, "sh", "-c", "mount -t tmpfs none /mnt && mount -t proc proc /proc"],
                                    capture_output=True, timeout=20)
            _NAMESPACES[as_root] = result.returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            _NAMESPACES[as_root] = False
    return _NAMESPACES[as_root]


def sandbox_user(slot: int) -> tuple[int, int]:
    """The unprivileged user of a parallel slot, ``medcnn-grader-<slot>``, created when missing (root only)."""
    name = f"{USER_PREFIX}{slot}"
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        result = subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                                 "--shell", "/usr/sbin/nologin", name], capture_output=True, text=True)
        if result.returncode != 0 and "already exists" not in result.stderr:
            raise SandboxError(f"could not create the grading user {name} (useradd: {result.stderr.strip()})")
        entry = pwd.getpwnam(name)
    if entry.pw_uid == 0:
        raise SandboxError(f"the grading user {name} has uid 0: remove it (userdel {name})")
    return entry.pw_uid, entry.pw_gid


def claim_slot(first: int = 0, *, limit: int = 64):
    """Claim a grading user no other grader on this machine uses now: ``(slot, lock)``; close ``lock`` to free it.

    Two graders at once (two instructors, two CI jobs) must not share a user: a sandbox's end
    kills every process of its user. A slot is held through an exclusive ``flock`` on
    ``/run/lock/medcnn-grader-<slot>.lock`` (or in /tmp), which the system frees if the grader dies.
    """
    import fcntl

    folder = "/run/lock" if os.access("/run/lock", os.W_OK) else "/tmp"
    for offset in range(limit):
        slot = (first + offset) % limit
        lock = open(os.path.join(folder, f"{USER_PREFIX}{slot}.lock"), "a")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            continue
        return slot, lock
    raise SandboxError(f"all {limit} grading users are busy: too many graders at once on this machine")


def protection(as_root: bool | None = None) -> str:
    """One line saying what the sandbox protects on this system (printed by the grader)."""
    as_root = is_root() if as_root is None else as_root
    if as_root and namespaces_available(True):
        return ("sandbox: each submission runs as its own unprivileged user in private namespaces "
                "(course files, submissions and grades hidden; no network; every process killed afterwards)")
    if as_root:
        return ("sandbox: each submission runs as its own unprivileged user (no namespaces here: it can read "
                "world-readable files such as the lab sources, but write only its scratch folder and /tmp)")
    if namespaces_available(False):
        return ("sandbox: NOT root, so submissions run as you, in a user namespace that hides the course files, "
                "submissions and grades; they can still read and write your other files: grade untrusted work as root")
    return ("sandbox: NOT root and no user namespaces: submissions run as you with your rights on every file; "
            "the score is still decided outside them, but grade untrusted work as root (a container, CI)")


# ---------------------------------------------------------------- data across the boundary


def _scalar(value):
    if value is None or isinstance(value, bool):
        return {"t": "b", "v": value} if isinstance(value, bool) else {"t": "none"}
    if isinstance(value, int):
        return {"t": "i", "v": str(int(value))}
    if isinstance(value, float):
        return {"t": "f", "v": float(value)}
    if isinstance(value, str):
        return {"t": "s", "v": str(value)}
    return None


def encode_arguments(value):
    """Encode the grader's arguments for a call in the sandbox (data and handles only)."""
    import numpy as np

    if isinstance(value, Remote):
        return {"t": "ref", "id": value._id}
    scalar = _scalar(value)
    if scalar is not None:
        return scalar
    if isinstance(value, np.generic):
        return encode_arguments(value.item())
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise TypeError(f"cannot send an array of dtype {value.dtype} to the sandbox")
        return {"t": "nd", "dtype": value.dtype.str, "shape": list(value.shape), "data": value.ravel().tolist()}
    if isinstance(value, (list, tuple)):
        return {"t": "list" if isinstance(value, list) else "tuple", "items": [encode_arguments(item) for item in value]}
    if isinstance(value, dict):
        return {"t": "dict", "keys": [encode_arguments(key) for key in value],
                "values": [encode_arguments(item) for item in value.values()]}
    try:
        import pandas as pd

        if isinstance(value, pd.DataFrame):
            return {"t": "df", "columns": [encode_arguments(c) for c in value.columns],
                    "index": encode_arguments(value.index.to_list()),
                    "data": [encode_arguments(value[c].to_numpy()) if value[c].dtype.kind in "biuf"
                             else encode_arguments(value[c].astype(str).to_list()) for c in value.columns]}
    except ImportError:
        pass
    raise TypeError(f"cannot send a {type(value).__name__} to the sandbox")


def decode(encoded, sandbox=None, *, budget=None):
    """Rebuild a value the sandbox sent: plain data only (JSON, NumPy, pandas), handles as :class:`Remote`.

    Example:
        >>> decode({"t": "nd", "dtype": "<f8", "shape": [2], "data": [0.5, 1.0]})
        array([0.5, 1. ])
    """
    import numpy as np

    budget = budget if budget is not None else [MAX_ELEMENTS]

    def spend(count):
        budget[0] -= count
        if budget[0] < 0:
            raise SandboxError(f"the submission's value holds more than {MAX_ELEMENTS} elements")

    if not isinstance(encoded, dict) or not isinstance(encoded.get("t"), str):
        raise SandboxError("malformed value from the sandbox")
    kind = encoded["t"]
    spend(1)
    if kind == "none":
        return None
    if kind == "ellipsis":
        return Ellipsis
    if kind == "b":
        return bool(encoded["v"])
    if kind == "i":
        text = str(encoded["v"])
        if len(text) > 400:
            raise SandboxError("an integer of more than 400 digits from the sandbox")
        return int(text)
    if kind == "f":
        return float(encoded["v"])
    if kind == "s":
        return str(encoded["v"])
    if kind in ("list", "tuple", "set"):
        items = [decode(item, sandbox, budget=budget) for item in encoded["items"]]
        return {"list": list, "tuple": tuple, "set": set}[kind](items) if kind != "set" else set(items)
    if kind == "dict":
        keys = [decode(key, sandbox, budget=budget) for key in encoded["keys"]]
        values = [decode(value, sandbox, budget=budget) for value in encoded["values"]]
        return dict(zip(keys, values))
    if kind == "nd":
        dtype = np.dtype(str(encoded["dtype"]))
        if dtype.kind not in "biufU":
            raise SandboxError(f"an array of dtype {dtype} from the sandbox")
        shape = tuple(int(size) for size in encoded["shape"])
        data = encoded["data"]
        if not isinstance(data, list):
            raise SandboxError("malformed array from the sandbox")
        spend(len(data))
        if any(not isinstance(item, (int, float, str, bool)) for item in data):
            raise SandboxError("an array holding something other than numbers or strings")
        return np.array(data, dtype=dtype).reshape(shape)
    if kind in ("df", "series"):
        import pandas as pd

        index = decode(encoded["index"], sandbox, budget=budget)
        if kind == "series":
            return pd.Series(decode(encoded["data"], sandbox, budget=budget), index=index,
                             name=decode(encoded["name"], sandbox, budget=budget))
        columns = [decode(column, sandbox, budget=budget) for column in encoded["columns"]]
        data = [decode(column, sandbox, budget=budget) for column in encoded["data"]]
        frame = pd.DataFrame({position: column for position, column in enumerate(data)}, index=index)
        frame.columns = columns
        return frame
    if kind == "obj":
        if sandbox is None:
            raise SandboxError("a handle with no sandbox to ask")
        return Remote(sandbox, int(encoded["id"]), str(encoded.get("type", "object"))[:100], bool(encoded.get("callable")))
    raise SandboxError(f"unknown value kind {kind!r} from the sandbox")


class Remote:
    """A value that lives in the submission's kernel (a function, a model): every use is a request."""

    def __init__(self, sandbox, identifier: int, type_name: str, is_callable: bool):
        object.__setattr__(self, "_sandbox", sandbox)
        object.__setattr__(self, "_id", identifier)
        object.__setattr__(self, "type_name", type_name)
        object.__setattr__(self, "is_callable", is_callable)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._sandbox.request({"op": "getattr", "id": self._id, "name": name})

    def __call__(self, *arguments, **keywords):
        return self._sandbox.request({"op": "call", "id": self._id, "args": encode_arguments(list(arguments)),
                                      "kwargs": encode_arguments(keywords)})

    def __getitem__(self, key):
        return self._sandbox.request({"op": "getitem", "id": self._id, "key": encode_arguments(key)})

    def __len__(self):
        return int(self._sandbox.request({"op": "len", "id": self._id}))

    def __iter__(self):
        return (self[position] for position in range(len(self)))

    def __repr__(self):
        return f"<the submission's {self.type_name}>"


# ---------------------------------------------------------------- the kernel side (untrusted)

# Defined in the submission's kernel after its last cell. It only turns the kernel's values into
# JSON; whatever it (or a submission that replaces it) sends, the grader decodes as data.
KERNEL_HELPER = r'''
def __medcnn_make_grading_helper():
    import json, math
    objects = {}
    user = get_ipython().user_ns

    def scalar(value):
        import numpy as np
        if isinstance(value, np.generic):
            value = value.item()
        if value is None:
            return {"t": "none"}
        if isinstance(value, bool):
            return {"t": "b", "v": bool(value)}
        if isinstance(value, int):
            return {"t": "i", "v": str(int(value))}
        if isinstance(value, float):
            return {"t": "f", "v": float(value)}
        if isinstance(value, str):
            return {"t": "s", "v": str(value)}
        return None

    def array(value):
        import numpy as np
        value = np.asarray(value)
        if value.dtype.kind in "biuf":
            return {"t": "nd", "dtype": value.dtype.str, "shape": list(value.shape), "data": value.ravel().tolist()}
        if value.dtype.kind in "UM":
            value = value.astype(str)
            return {"t": "nd", "dtype": value.dtype.str, "shape": list(value.shape), "data": value.ravel().tolist()}
        return {"t": "list", "items": [encode(item, 1, handles=False) for item in value.ravel().tolist()]}

    def encode(value, depth=0, handles=True):
        if value is Ellipsis:
            return {"t": "ellipsis"}
        simple = scalar(value)
        if simple is not None:
            return simple
        if depth > 20:
            raise ValueError("nested too deep")
        import numpy as np
        if isinstance(value, np.ndarray):
            return array(value)
        if isinstance(value, (list, tuple, set, frozenset)):
            kind = "list" if isinstance(value, list) else "tuple" if isinstance(value, tuple) else "set"
            return {"t": kind, "items": [encode(item, depth + 1, handles) for item in value]}
        if isinstance(value, dict):
            return {"t": "dict", "keys": [encode(key, depth + 1, handles) for key in value],
                    "values": [encode(item, depth + 1, handles) for item in value.values()]}
        try:
            import pandas as pd
            if isinstance(value, pd.DataFrame):
                return {"t": "df", "columns": [encode(column, depth + 1, False) for column in value.columns],
                        "index": encode(value.index.to_list(), depth + 1, False),
                        "data": [array(value.iloc[:, position].to_numpy()) for position in range(value.shape[1])]}
            if isinstance(value, pd.Series):
                return {"t": "series", "index": encode(value.index.to_list(), depth + 1, False),
                        "data": array(value.to_numpy()), "name": encode(value.name, depth + 1, False)}
            if isinstance(value, pd.Index):
                return array(value.to_numpy())
        except ImportError:
            pass
        if type(value).__name__ == "TensorShape" and hasattr(value, "as_list"):
            return encode(tuple(value.as_list()), depth + 1, handles)
        if hasattr(value, "numpy") and hasattr(value, "shape") and hasattr(value, "dtype"):
            try:  # a tensor or a Keras variable: its values when small, else a handle (ask for .shape)
                if int(np.prod(tuple(value.shape))) <= 100_000:
                    return array(value.numpy())
            except Exception:
                pass
        if not handles:
            return {"t": "s", "v": repr(value)[:200]}
        objects[len(objects) + 1] = value
        return {"t": "obj", "id": len(objects), "type": type(value).__name__, "callable": callable(value)}

    def decode(value):
        kind = value["t"]
        if kind == "none":
            return None
        if kind in ("b", "f", "s"):
            return value["v"]
        if kind == "i":
            return int(value["v"])
        if kind in ("list", "tuple"):
            items = [decode(item) for item in value["items"]]
            return items if kind == "list" else tuple(items)
        if kind == "dict":
            return {decode(key): decode(item) for key, item in zip(value["keys"], value["values"])}
        if kind == "nd":
            import numpy as np
            return np.array(value["data"], dtype=value["dtype"]).reshape(value["shape"])
        if kind == "df":
            import pandas as pd
            frame = pd.DataFrame({position: decode(column) for position, column in enumerate(value["data"])},
                                 index=decode(value["index"]))
            frame.columns = [decode(column) for column in value["columns"]]
            return frame
        if kind == "ref":
            return objects[value["id"]]
        raise ValueError(kind)

    def handle(text):
        try:
            request = json.loads(text)
            operation = request["op"]
            if operation == "get":
                if request["name"] not in user:
                    return json.dumps({"ok": False, "missing": True, "error": "NameError: " + request["name"] + " is not defined"})
                result = user[request["name"]]
            else:
                target = objects[request["id"]]
                if operation == "getattr":
                    result = getattr(target, request["name"])
                elif operation == "getitem":
                    result = target[decode(request["key"])]
                elif operation == "len":
                    result = len(target)
                elif operation == "call":
                    result = target(*decode(request["args"]), **decode(request["kwargs"]))
                else:
                    raise ValueError("unknown operation " + repr(operation))
            return json.dumps({"ok": True, "value": encode(result)})
        except BaseException as error:
            return json.dumps({"ok": False, "error": (type(error).__name__ + ": " + str(error))[:500]})

    return handle

__medcnn_grading__ = __medcnn_make_grading_helper()
del __medcnn_make_grading_helper
'''


def _limit_resources() -> None:
    """In the runner before it starts: caps that protect the machine (files, processes, core dumps)."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (500_000_000, 500_000_000))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if os.geteuid() != 0:
        resource.setrlimit(resource.RLIMIT_NPROC, (512, 512))


def _die_with_parent() -> None:
    """In the sandbox's first process: if the grader dies (killed, crashed), it is killed too, and with it
    (``unshare --kill-child``, PID 1 of the namespace) every process of the submission."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass


def _no_dump() -> None:
    """Make this process undumpable: its /proc entries (fds, memory) belong to root, not to the kernel's user."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
    except (OSError, AttributeError):
        pass


def _await_answer(client, run_sync, message_id: str, limit: float) -> dict:
    """The kernel's answer to one request; past ``limit`` seconds the call is interrupted, and a
    kernel that does not answer the interrupt within 5 s is given up (``dead``)."""
    deadline = time.monotonic() + limit
    interrupted = False
    while True:
        try:
            message = run_sync(client.kc.get_shell_msg)(timeout=max(0.1, deadline - time.monotonic()))
        except Exception:  # noqa: BLE001 - the queue's Empty: past the limit
            if interrupted:
                return {"raw": None, "error": "the kernel stopped answering", "dead": True}
            run_sync(client.km.interrupt_kernel)()
            interrupted, deadline = True, time.monotonic() + 5
            continue
        if message.get("parent_header", {}).get("msg_id") != message_id:
            continue
        if interrupted:
            return {"raw": None, "error": f"no answer within {limit:g} s (interrupted)"}
        expression = message["content"].get("user_expressions", {}).get("r", {})
        if expression.get("status") == "ok":
            return {"raw": expression.get("data", {}).get("text/plain", "")}
        return {"raw": None, "error": f"{expression.get('ename')}: {expression.get('evalue')}"[:300]}


def run_notebook_and_answer(notebook_path: pathlib.Path, *, cell_timeout: int, max_output: int) -> None:
    """The runner: execute the notebook, report, then answer requests on the protocol pipes until told to stop."""
    _no_dump()
    # The protocol pipes move to private descriptors; the kernel inherits /dev/null and a log file instead.
    requests = os.fdopen(os.dup(0), "rb", buffering=0)
    replies = os.fdopen(os.dup(1), "wb", buffering=0)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    log = os.open("runner.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)

    def reply(message: dict) -> None:
        replies.write(json.dumps(message).encode() + b"\n")

    import nbformat
    from jupyter_core.utils import run_sync
    from nbclient import NotebookClient

    notebook = nbformat.read(notebook_path, as_version=4)

    class Client(NotebookClient):
        kept = 0
        dropped = False

        def output(self, outs, msg, display_id, cell_index):
            size = len(json.dumps(msg.get("content", {}), default=str))
            if self.kept + size > max_output:
                self.dropped = True
                return None
            self.kept += size
            return super().output(outs, msg, display_id, cell_index)

    client = Client(notebook, timeout=cell_timeout, interrupt_on_timeout=True, allow_errors=True,
                    kernel_name="python3", resources={"metadata": {"path": os.getcwd()}}, record_timing=False)
    # Unix sockets rather than TCP: the sandbox has no network, not even loopback.
    client.km = client.create_kernel_manager()
    client.km.transport = "ipc"
    client.km.ip = os.path.join(os.getcwd(), ".kernel")
    errors, timed_out = [], []
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code" or not cell.source.strip():
                continue
            try:
                client.execute_cell(cell, index)
            except Exception as error:  # noqa: BLE001 - a dead kernel: what ran so far is still graded
                errors.append({"cell": index + 1, "error": type(error).__name__})
                break
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    if output.get("ename") == "KeyboardInterrupt":
                        timed_out.append(index + 1)
                    else:
                        errors.append({"cell": index + 1, "error": f"{output.get('ename')}: {str(output.get('evalue'))[:120]}"})
        alive = run_sync(client.km.is_alive)()
        if alive:
            client.kc.execute(KERNEL_HELPER, silent=True, store_history=False)
            run_sync(client.kc.get_shell_msg)(timeout=cell_timeout)
        reply({"executed": True, "errors": errors, "timed_out_cells": timed_out, "dropped_output": client.dropped,
               "kernel_alive": alive})
        for line in requests:
            request = line.decode("utf-8", "replace").strip()
            if not request or not alive:
                break
            message_id = client.kc.execute("", silent=True, store_history=False,
                                           user_expressions={"r": f"__medcnn_grading__({request!r})"})
            answer = _await_answer(client, run_sync, message_id, cell_timeout)
            if answer.get("dead"):
                alive = False
            reply(answer)
            alive = alive and run_sync(client.km.is_alive)()


# ---------------------------------------------------------------- the supervisor (root, PID 1)


def _closed_ancestor(path: pathlib.Path) -> pathlib.Path | None:
    """The highest folder above ``path`` that other users cannot enter (mode without o+x), or None."""
    for ancestor in reversed(path.parents):
        if ancestor != pathlib.Path("/") and not os.stat(ancestor).st_mode & 0o001:
            return ancestor
    return None


MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND = 1, 2, 4, 8, 32, 4096


def _mount(source: str, target: str, filesystem: str | None = None, flags: int = 0, options: str | None = None) -> None:
    """mount(2) itself (the mount command rewrites /proc/self/fd/N sources, which a bind needs as given)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    encoded = [None if value is None else value.encode() for value in (source, target, filesystem, options)]
    if libc.mount(encoded[0], encoded[1], encoded[2], ctypes.c_ulong(flags), encoded[3]) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"mount {source} on {target}: {os.strerror(error)}")


def _bind_read_only(descriptor: int, target: str, *, writable: bool = False) -> None:
    _mount(f"/proc/self/fd/{descriptor}", target, None, MS_BIND)
    if not writable:
        _mount("none", target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _expose(paths) -> None:
    """Let the sandbox's user reach ``paths`` (the Python installation) that lie in a closed folder such as /root.

    The closed folder is covered by an empty one and each path is mounted back read-only at its
    place, so the user reaches those paths and nothing else of the folder.
    """
    groups: dict[pathlib.Path, list[pathlib.Path]] = {}
    for path in map(pathlib.Path, paths):
        closed = _closed_ancestor(path)
        if closed is not None:
            groups.setdefault(closed, []).append(path)
    for closed, inside in groups.items():
        descriptors = [os.open(path, os.O_RDONLY | os.O_DIRECTORY) for path in inside]
        _mount("exposed", str(closed), "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=1m")
        for path, descriptor in zip(inside, descriptors):
            path.mkdir(parents=True, exist_ok=True)
            _bind_read_only(descriptor, str(path))
            os.close(descriptor)


def supervise(config: dict) -> int:
    """Inside the namespaces: hide the paths, make /tmp private, drop to the user, run, and end with the runner."""
    hide = [pathlib.Path(path) for path in config["hide"]]
    scratch = pathlib.Path(config["scratch"])
    if config["namespaces"]:
        scratch_fd = os.open(scratch, os.O_RDONLY | os.O_DIRECTORY)
        try:
            _expose(config.get("expose", []))
            _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
            for path in hide:
                if path.is_dir():
                    _mount("hidden", str(path), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "mode=000,size=4k")
                elif path.exists():
                    _mount("/dev/null", str(path), None, MS_BIND)
            # What the runner needs (the Python installation, the course's package) may itself lie in a
            # folder made private below (a checkout under /tmp, as CI's clones are): it is opened now and
            # mounted back read-only at its place on the private folder, so nothing else of it shows.
            private_folders = [folder for folder in ("/var/tmp", "/dev/shm", "/tmp") if os.path.isdir(folder)]
            kept = [pathlib.Path(path) for path in config.get("keep", [])
                    if any(pathlib.Path(path).is_relative_to(folder) for folder in private_folders)
                    and os.path.isdir(path)]
            kept_descriptors = [os.open(path, os.O_RDONLY | os.O_DIRECTORY) for path in kept]
            for private in private_folders:
                size = "512m" if private == "/tmp" else "64m"
                _mount("private", private, "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777,size={size}")
            for path, descriptor in zip(kept, kept_descriptors):
                path.mkdir(parents=True, exist_ok=True)
                _bind_read_only(descriptor, str(path))
                os.close(descriptor)
            os.mkdir(SCRATCH_MOUNT, 0o755)
            _bind_read_only(scratch_fd, SCRATCH_MOUNT, writable=True)
        except OSError as error:
            sys.stderr.write(f"sandbox: {error}\n")
            return 70
        os.close(scratch_fd)
        work = pathlib.Path(SCRATCH_MOUNT)
    else:
        work = scratch
    uid, gid = config.get("uid"), config.get("gid")

    def become_user():
        os.setsid()
        if uid is not None:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
        _limit_resources()

    environment = {
        "PATH": f"{pathlib.Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(work), "TMPDIR": str(work / "tmp"), "IPYTHONDIR": str(work / ".ipython"),
        "MPLCONFIGDIR": str(work / ".matplotlib"), "JUPYTER_RUNTIME_DIR": str(work / ".jupyter"),
        "JUPYTER_DATA_DIR": str(work / ".jupyter"), "KERAS_HOME": str(work / ".keras"), "XDG_CACHE_HOME": str(work / ".cache"),
        "MEDCNN_DATA_DIR": str(work / "data"), "MEDCNN_PROFILE": "smoke", "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2", "LANG": "C.UTF-8",
        **{key: value for key, value in config.get("environment", {}).items()},
    }
    process = subprocess.Popen(
        [sys.executable, str(work / ".runner.py"), "--run", str(work / config["notebook"]),
         "--cell-timeout", str(config["cell_timeout"]), "--max-output", str(config["max_output"])],
        cwd=work, env=environment, preexec_fn=become_user, stdin=0, stdout=1, stderr=2,
    )
    code = process.wait()
    if code != 0:
        reason = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        sys.stderr.write(f"sandbox: the runner ended with {reason}\n")
    return code


# ---------------------------------------------------------------- the grader's side (trusted)


def make_base() -> pathlib.Path:
    """The grader's folder of scratch folders (``medcnn-grading-<pid>-...`` in the temporary folder, mode 0711).

    Folders left by an earlier grader that was killed (its process is gone) are removed first.
    """
    import tempfile

    for stale in pathlib.Path(tempfile.gettempdir()).glob("medcnn-grading-*-*"):
        owner = stale.name.split("-")[2]
        if owner.isdigit() and not pathlib.Path(f"/proc/{owner}").exists():
            shutil.rmtree(stale, ignore_errors=True)
    base = pathlib.Path(tempfile.mkdtemp(prefix=f"medcnn-grading-{os.getpid()}-"))
    base.chmod(0o711)
    return base


def kill_user_processes(uid: int) -> int:
    """Kill every process of ``uid`` (root only, for a slot's own user); return how many were signalled."""
    killed = 0
    for _ in range(20):
        found = []
        for entry in pathlib.Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if entry.stat().st_uid == uid:
                        found.append(int(entry.name))
                except OSError:
                    continue
        if not found:
            break
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except OSError:
                pass
        time.sleep(0.05)
    return killed


class Sandbox:
    """One submission's run: start it, read its execution report, ask for values, close it.

    Example:
        >>> with Sandbox(pathlib.Path("ana.ipynb"), base=pathlib.Path("/tmp/grading"), hide=[]) as box:  # doctest: +SKIP
        ...     report = box.start()
        ...     box.get("glioma_precision")
        0.8518518518518519
    """

    def __init__(self, notebook: pathlib.Path, *, base: pathlib.Path, hide, slot: int = 0, cell_timeout: int = 120,
                 max_output: int = 1_000_000, deadline: float | None = None, extra_files: dict[str, str] | None = None):
        self.notebook = notebook
        self.base = base
        self.hide = [str(path) for path in hide]
        self.slot = slot
        self.cell_timeout = cell_timeout
        self.max_output = max_output
        self.deadline = deadline if deadline is not None else time.monotonic() + 600
        self.extra_files = extra_files or {}
        self.process = None
        self.scratch = None
        self.uid = None
        self.buffer = b""
        self.namespaces = False
        self.slot_lock = None

    # -- life cycle
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self) -> dict:
        """Run the notebook; return the runner's execution report (errors, timed-out cells, ...)."""
        root = is_root()
        self.namespaces = namespaces_available(root)
        gid = None
        if root:
            self.slot, self.slot_lock = claim_slot(self.slot)
            self.uid, gid = sandbox_user(self.slot)
        self.scratch = pathlib.Path(os.path.realpath(self.base)) / f"slot-{self.slot}-{os.urandom(4).hex()}"
        self.scratch.mkdir(mode=0o700)
        (self.scratch / "tmp").mkdir()
        shutil.copyfile(self.notebook, self.scratch / "submission.ipynb")
        # The runner's program (this file) goes with it: the course's tools/ folder is hidden from the user.
        shutil.copyfile(pathlib.Path(__file__).resolve(), self.scratch / ".runner.py")
        for relative, text in self.extra_files.items():
            path = self.scratch / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        if root:
            for folder, _, names in os.walk(self.scratch):
                os.chown(folder, self.uid, gid)
                for name in names:
                    os.chown(os.path.join(folder, name), self.uid, gid)
        # The Python installation the runner needs, where it lies in a folder the user cannot enter.
        expose = sorted({os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)})
        # ... and, where they lie in a temporary folder the sandbox makes private, these are mounted back:
        # the installation and the folder the course's package is imported from (an editable install).
        keep = set(expose)
        package = importlib.util.find_spec("medcnn")
        if package is not None and package.origin:
            keep.add(os.path.realpath(pathlib.Path(package.origin).parent.parent))
        config = {"scratch": str(self.scratch), "hide": self.hide, "expose": expose, "keep": sorted(keep),
                  "uid": self.uid, "gid": gid,
                  "notebook": "submission.ipynb", "cell_timeout": self.cell_timeout, "max_output": self.max_output,
                  "namespaces": self.namespaces}
        command = [sys.executable, str(pathlib.Path(__file__).resolve()), "--supervise", json.dumps(config)]
        if self.namespaces:
            prefix = ["unshare", "--mount", "--pid", "--net", "--fork", "--kill-child", "--propagation", "private"]
            if not root:
                prefix[1:1] = ["--user", "--map-root-user"]
            command = prefix + command
        # The supervisor's (and the runner's start-up) messages, for the reason when it fails; the
        # runner sends its own and the kernel's to runner.log in the scratch folder once started.
        self.log = pathlib.Path(str(self.scratch) + ".log")
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                            start_new_session=True, cwd=self.base, preexec_fn=_die_with_parent)
        report = self._read()
        if not isinstance(report, dict) or report.get("executed") is not True:
            raise SandboxError("the sandbox sent no execution report")
        return report

    def close(self) -> None:
        """End every process of the submission and remove its scratch folder."""
        if self.process is not None:
            try:
                self.process.stdin.close()
            except OSError:
                pass
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except OSError:
                pass
            self.process.wait()
            self.process.stdout.close()
        if self.uid is not None:
            kill_user_processes(self.uid)
        if self.slot_lock is not None:
            self.slot_lock.close()  # the slot's user is free for the next sandbox
            self.slot_lock = None
        if self.scratch is not None:
            pathlib.Path(str(self.scratch) + ".log").unlink(missing_ok=True)
            shutil.rmtree(self.scratch, ignore_errors=True)
            if self.scratch.exists():  # a file the submission made read-only: make it writable and retry
                for folder, _, _ in os.walk(self.scratch):
                    os.chmod(folder, 0o700)
                shutil.rmtree(self.scratch, ignore_errors=True)

    # -- requests
    def _read(self):
        descriptor = self.process.stdout.fileno()
        while b"\n" not in self.buffer:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise SandboxError("timeout")
            ready, _, _ = select.select([descriptor], [], [], remaining)
            if not ready:
                raise SandboxError("timeout")
            chunk = os.read(descriptor, 1 << 20)
            if not chunk:
                raise SandboxError(f"the sandbox ended (the kernel or the runner died){self.last_words()}")
            self.buffer += chunk
            if len(self.buffer) > MAX_REPLY_BYTES:
                raise SandboxError(f"an answer of more than {MAX_REPLY_BYTES} bytes")
        line, self.buffer = self.buffer.split(b"\n", 1)
        try:
            return json.loads(line)
        except ValueError as error:
            raise SandboxError("malformed answer from the sandbox") from error

    def last_words(self) -> str:
        """The last line the supervisor or the runner wrote before it ended (for the reason), or ''."""
        lines = []
        for path in (str(self.scratch / "runner.log"), str(self.scratch) + ".log"):
            try:
                with open(path, "rb") as log:
                    log.seek(max(0, os.fstat(log.fileno()).st_size - 2000))
                    lines += [line for line in log.read().decode("utf-8", "replace").splitlines() if line.strip()]
            except OSError:
                continue
        return f": {lines[-1].strip()[:200]}" if lines else ""

    def request(self, request: dict):
        """Send one request; return the decoded value or raise RemoteError / SandboxError."""
        try:
            self.process.stdin.write(json.dumps(request).encode() + b"\n")
            self.process.stdin.flush()
        except (OSError, ValueError) as error:
            raise SandboxError("the sandbox ended (the kernel or the runner died)") from error
        answer = self._read()
        if not isinstance(answer, dict):
            raise SandboxError("malformed answer from the sandbox")
        if answer.get("raw") is None:
            raise RemoteError(str(answer.get("error", "no answer"))[:300])
        raw = answer["raw"]
        if not isinstance(raw, str) or len(raw) > MAX_REPLY_BYTES:
            raise SandboxError("malformed answer from the sandbox")
        try:
            text = ast.literal_eval(raw)
            message = json.loads(text)
        except (ValueError, SyntaxError, TypeError, RecursionError, MemoryError) as error:
            raise SandboxError("malformed answer from the sandbox") from error
        if not isinstance(message, dict):
            raise SandboxError("malformed answer from the sandbox")
        if not message.get("ok"):
            if message.get("missing"):
                raise NameError(str(request.get("name")) + " is not defined in the notebook")
            raise RemoteError(str(message.get("error", "error"))[:300])
        try:
            return decode(message.get("value"), self)
        except (ValueError, TypeError, KeyError, RecursionError, MemoryError) as error:
            raise SandboxError(f"malformed value from the sandbox ({type(error).__name__})") from error

    def get(self, name: str):
        """The value of the notebook's variable ``name`` (data, or a :class:`Remote` handle).

        Raises NameError when the notebook has no such variable or it still holds the lab's ``...``.
        """
        value = self.request({"op": "get", "name": name})
        if value is Ellipsis:
            raise NameError(f"{name} is still ... : the question is not answered")
        return value


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--supervise")
    parser.add_argument("--run")
    parser.add_argument("--cell-timeout", type=int, default=120)
    parser.add_argument("--max-output", type=int, default=1_000_000)
    arguments = parser.parse_args(argv)
    if arguments.supervise:
        return supervise(json.loads(arguments.supervise))
    if arguments.run:
        run_notebook_and_answer(pathlib.Path(arguments.run), cell_timeout=arguments.cell_timeout,
                                max_output=arguments.max_output)
        return 0
    parser.error("this is the grader's sandbox program: use tools/labs_grade.py")
    return 2


if __name__ == "__main__":
    sys.exit(main())
