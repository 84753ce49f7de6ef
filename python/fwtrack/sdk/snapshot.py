"""The code and environment snapshot of a run, written into `<run dir>/files/`.

At `init`, a daemon thread (so that `git` and the package scan never delay training) writes:

- `metadata.json`: git commit, branch, remote URL (credentials stripped) and dirty flag; the
  entry script and command line; Python version and executable; OS, host, CPU model and count;
  GPU models and driver/CUDA versions (NVML when installed, torch only when already imported);
  the start time; and environment variables from an allow-list of harmless names, never one
  whose name contains KEY, TOKEN, SECRET, PASSWORD, PASS, CREDENTIAL or AUTH.
- `requirements.txt`: the installed distributions as `name==version`, sorted.
- `diff.patch`: `git diff HEAD` (staged and unstaged changes), only when the tree is dirty.
- `code/<script name>`: a copy of the entry script; in IPython/Jupyter the notebook instead
  (`code/<name>.ipynb` when the kernel knows its file, else the executed cells as
  `code/_session_history.ipynb`), written again at `finish` with the cells run by then
  (`notebook.notebook_code`).

The snapshot is cheap enough that `finish()` of a short run barely waits for it: the package
list is cached per environment in `<cache>/env/` (`<cache>` is `FWTRACK_CACHE_DIR`, else
`$XDG_CACHE_HOME/fwtrack`, else `~/.cache/fwtrack`), keyed by `sys.prefix`, the path entries
and the names and mtimes of the `*.dist-info`/`*.egg-info` entries in them, so installing,
upgrading or removing a distribution changes the key and the list is scanned again; the GPU
probe (NVML) and the OS string are cached per boot of the host; the git commands run at once.

`Settings.capture_env=False` (`FWTRACK_CAPTURE_ENV=false`) leaves out `metadata.json` and
`requirements.txt`; `Settings.save_code=False` (`FWTRACK_SAVE_CODE=false`) leaves out the code
copy and `diff.patch`. `Run.save(path)` adds a user file. An online run's uploader (the Rust
`_core.Uploader`, which also ships the log) uploads the files by content address, as `fwtrack
sync` does; trouble there warns once, never raises.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from fwtrack._fsutil import copy_replace
from fwtrack.run_files import FILES_DIR

__all__ = [
    "FILES_DIR",
    "Snapshot",
    "cache_dir",
    "collect_metadata",
    "environment_key",
    "git_info",
    "host_probes",
    "redact_text",
    "requirements",
    "safe_argv",
    "safe_env",
    "scan_requirements",
    "strip_credentials",
]

GIT_TIMEOUT = 10.0
WAIT_TIMEOUT = 30.0
"""Seconds `finish()` waits for the snapshot thread."""

ENV_ALLOW = (
    "CUDA_VISIBLE_DEVICES",
    "CUDA_DEVICE_ORDER",
    "NVIDIA_VISIBLE_DEVICES",
    "SLURM_",
    "PBS_JOBID",
    "LSB_JOBID",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "RANK",
    "LOCAL_RANK",
    "WORLD_SIZE",
    "LOCAL_WORLD_SIZE",
    "NODE_RANK",
    "MASTER_PORT",
    "CONDA_DEFAULT_ENV",
    "VIRTUAL_ENV",
    "PYTHONHASHSEED",
)
"""Names (or, ending in `_`, prefixes) of the environment variables `metadata.json` keeps."""
_SECRET = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASS|CREDENTIAL|AUTH", re.IGNORECASE)
_URL_CREDS = re.compile(r"(?<=://)[^/@\s]*@")


def strip_credentials(url: str) -> str:
    """`url` without a `user:password@` part (also in scp-like `user@host:path` it keeps
    only the user, which carries no secret)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme and "@" in parts.netloc:
        host = parts.netloc.rsplit("@", 1)[1]
        return urllib.parse.urlunsplit(parts._replace(netloc=host))
    return _URL_CREDS.sub("", url)


REDACTED = "<redacted>"
_MAX_JSON_DEPTH = 64
"""Deeper JSON in an argument is hidden whole rather than walked."""
_SECRET_WORDS = r"(?:KEY|TOKEN|SECRET|PASSWORD|PASS|CREDENTIAL|AUTH)"
_NOT_REDACTED = rf"(?!(?:[A-Za-z][\w-]*\s+)?{re.escape(REDACTED)})"
_OPTION = re.compile(r"--?[A-Za-z][\w.\-]*")
"""An option name (`-v`, `--api-key`); `-1` or `-` are values."""
_KEY_NAME = re.compile(r"[+~]?[\w.\-\[\]/]+")
"""The key of a `key=value` argument (`db.password`, `+trainer.token`, `auth[0]`)."""
_AUTH_SCHEME = r"(?:Bearer|Basic|Digest|Token|Negotiate|NTLM|AWS4-HMAC-SHA256)"
_AUTH_HEADER = re.compile(
    rf"(\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?)(?:({_AUTH_SCHEME})\s+)?"
    rf"{_NOT_REDACTED}[^\"'\r\n]+",
    re.IGNORECASE,
)
"""`Authorization: <scheme> <credentials>` (also `=` or quoted): everything after the scheme."""
_BEARER = re.compile(
    rf"\b(Bearer\s+){_NOT_REDACTED}[^\s\"',;]+|\b(Basic\s+)[A-Za-z0-9+/]{{8,}}=*",
    re.IGNORECASE,
)
_KEY_VALUE = re.compile(
    rf"(?<![\w.\-/:@])(?P<key>[\"']?[\w.\-]*{_SECRET_WORDS}[\w.\-]*[\"']?)(?P<sep>\s*[:=]\s*)"
    rf"{_NOT_REDACTED}(?P<value>\"(?:[^\"\\]|\\.)*\"|'[^']*'|[^\s,;&}}\]\"']+)",
    re.IGNORECASE,
)
"""`password=S`, `api_key: S`, `"token": "S"` inside a longer text (a query string, YAML,
JSON that does not parse)."""


def _is_option(arg: str) -> bool:
    return _OPTION.fullmatch(arg.partition("=")[0]) is not None


def _redact_json(value: Any, depth: int) -> tuple[Any, bool]:
    """(`value` with the values under secret-looking keys redacted, whether it changed)."""
    if depth > _MAX_JSON_DEPTH:
        return REDACTED, True
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        changed = False
        for key, item in value.items():
            if _SECRET.search(key) and not (item is None or isinstance(item, bool)):
                out[key] = REDACTED
                changed = changed or item != REDACTED
            else:
                out[key], item_changed = _redact_json(item, depth + 1)
                changed = changed or item_changed
        return out, changed
    if isinstance(value, list):
        items = [_redact_json(item, depth + 1) for item in value]
        return [item for item, _ in items], any(changed for _, changed in items)
    if isinstance(value, str):
        text = redact_text(value, depth + 1)
        return text, text != value
    return value, False


def _auth_header(match: re.Match[str]) -> str:
    scheme = f"{match.group(2)} " if match.group(2) else ""
    return f"{match.group(1)}{scheme}{REDACTED}"


def _bearer(match: re.Match[str]) -> str:
    return f"{match.group(1) or match.group(2)}{REDACTED}"


def _key_value(match: re.Match[str]) -> str:
    quote = match.group("value")[0]
    value = f"{quote}{REDACTED}{quote}" if quote in "\"'" else REDACTED
    return f"{match.group('key')}{match.group('sep')}{value}"


def redact_text(text: str, depth: int = 0) -> str:
    """`text` (one argument, or the value of an option) with its secrets replaced by
    `<redacted>`: a JSON object or array has the values under secret-looking keys redacted (and
    is written back compactly); `key=value` with a secret-looking key hides all of the value;
    otherwise `Authorization:` and `Bearer` credentials, `key=value`/`key: value` pairs with
    secret-looking keys and `user:password@` in URLs are replaced where they appear."""
    stripped = text.strip()
    if stripped[:1] in ("{", "[") and depth <= _MAX_JSON_DEPTH:
        try:
            doc = json.loads(stripped)
        except (ValueError, RecursionError):
            doc = None
        if isinstance(doc, dict | list):
            redacted, changed = _redact_json(doc, depth + 1)
            if not changed:
                return text
            return json.dumps(redacted, ensure_ascii=False, separators=(",", ":"))
    key, eq, value = text.partition("=")
    if eq and _KEY_NAME.fullmatch(key):
        if _SECRET.search(key):
            return f"{key}={REDACTED}"
        return f"{key}={redact_text(value, depth + 1)}"
    text = _URL_CREDS.sub("", text)
    text = _AUTH_HEADER.sub(_auth_header, text)
    text = _BEARER.sub(_bearer, text)
    return _KEY_VALUE.sub(_key_value, text)


def safe_argv(argv: Sequence[str]) -> list[str]:
    """`argv` with secrets replaced by `<redacted>`, one argument for one argument (nothing
    shifts):

    - `--password=S`, `token=S`: an option or `key=value` whose name looks like a secret;
    - `--api-key S`: the value after such an option, when it is a value (not an option);
    - `--set=db.password=S`: by the key inside the value;
    - `--opt={"api_key": "S"}` and a bare JSON argument: the values under secret-looking
      keys, at any depth;
    - `Authorization: Bearer S` (`--header`), `Bearer S`, `password: S` anywhere in an
      argument, and `user:password@` in URLs.
    """
    out: list[str] = []
    hide_next = False
    for arg in argv:
        option = _is_option(arg)
        if hide_next and not option:
            out.append(REDACTED)
            hide_next = False
            continue
        hide_next = False
        if option:
            name, eq, value = arg.partition("=")
            if not eq:
                hide_next = _SECRET.search(name) is not None
                out.append(arg)
            elif _SECRET.search(name):
                out.append(f"{name}={REDACTED}")
            else:
                out.append(f"{name}={redact_text(value)}")
        else:
            out.append(redact_text(arg))
    return out


def safe_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The allow-listed environment variables, minus any whose name looks like a secret."""
    env = os.environ if environ is None else environ
    out: dict[str, str] = {}
    for name in sorted(env):
        if _SECRET.search(name):
            continue
        if any(name.startswith(p) if p.endswith("_") else name == p for p in ENV_ALLOW):
            out[name] = strip_credentials(env[name])
    return out


def _git_all(cwd: str, *commands: Sequence[str]) -> list[str | None]:
    """The output of each `git <command>` in `cwd`, run at once (None where one fails or
    outlasts `GIT_TIMEOUT`)."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0"}
    procs: list[subprocess.Popen[bytes] | None] = []
    for args in commands:
        try:
            procs.append(
                subprocess.Popen(
                    ["git", *args],
                    cwd=cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    env=env,
                )
            )
        except (OSError, subprocess.SubprocessError):
            procs.append(None)
    deadline = time.monotonic() + GIT_TIMEOUT
    out: list[str | None] = []
    for proc in procs:
        if proc is None:
            out.append(None)
            continue
        try:
            stdout, _ = proc.communicate(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            out.append(None)
            continue
        out.append(stdout.decode("utf-8", "replace") if proc.returncode == 0 else None)
    return out


def git_info(cwd: str) -> tuple[dict[str, Any] | None, str | None]:
    """(commit, branch, remote, dirty) of the repository around `cwd`, and `git diff HEAD`
    when dirty; (None, None) outside a repository or without git. The commands run at once
    (the diff too, kept only when the tree is dirty)."""
    commit, branch, remote, status, diff = _git_all(
        cwd,
        ("rev-parse", "HEAD"),
        ("rev-parse", "--abbrev-ref", "HEAD"),
        ("remote", "get-url", "origin"),
        ("status", "--porcelain", "--untracked-files=no"),
        ("diff", "HEAD", "--no-color", "--no-ext-diff"),
    )
    if commit is None:
        return None, None
    branch = (branch or "").strip() or None
    remote = (remote or "").strip() or None
    dirty = bool(status and status.strip())
    info = {
        "commit": commit.strip(),
        "branch": branch,
        "remote": strip_credentials(remote) if remote else None,
        "dirty": dirty,
    }
    return info, diff if dirty else None


def _cpu_model() -> str | None:
    with (
        contextlib.suppress(OSError),
        open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f,
    ):
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or None


def _nvml_gpus() -> dict[str, Any]:
    """GPU models and driver/CUDA versions through NVML; {} without NVML or a GPU."""
    out: dict[str, Any] = {}
    if importlib.util.find_spec("pynvml") is not None:
        try:
            import pynvml

            pynvml.nvmlInit()
            try:
                count = int(pynvml.nvmlDeviceGetCount())
                gpus = []
                for i in range(count):
                    handle = pynvml.nvmlDeviceGetHandleByIndex(i)
                    name = pynvml.nvmlDeviceGetName(handle)
                    mem = pynvml.nvmlDeviceGetMemoryInfo(handle)
                    gpus.append(
                        {
                            "name": name.decode() if isinstance(name, bytes) else str(name),
                            "memory_total": int(mem.total),
                        }
                    )
                driver = pynvml.nvmlSystemGetDriverVersion()
                out["gpus"] = gpus
                out["gpu_driver"] = driver.decode() if isinstance(driver, bytes) else str(driver)
                cuda = int(pynvml.nvmlSystemGetCudaDriverVersion())
                out["cuda_version"] = f"{cuda // 1000}.{cuda % 1000 // 10}"
            finally:
                pynvml.nvmlShutdown()
        except Exception:  # no driver, no GPU: the GPU part is absent
            out = {}
    return out


def _gpus(nvml: dict[str, Any] | None = None) -> dict[str, Any]:
    """GPU models and driver/CUDA versions through NVML (`nvml`: its answer, when known),
    else through torch when the program already imported it; {} when neither knows of a
    GPU."""
    out = dict(_nvml_gpus() if nvml is None else nvml)
    torch = sys.modules.get("torch")
    if not out and torch is not None:
        try:
            if torch.cuda.is_available():
                out["gpus"] = [
                    {"name": str(torch.cuda.get_device_name(i))}
                    for i in range(int(torch.cuda.device_count()))
                ]
                out["cuda_version"] = torch.version.cuda
        except Exception:
            out = {}
    return out


def _entry_script() -> str | None:
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None) or (sys.argv[0] if sys.argv else None)
    if not path or not os.path.isfile(path):
        return None
    return os.path.abspath(path)


def collect_metadata(started_at: float, script: str | None) -> tuple[dict[str, Any], str | None]:
    """The `metadata.json` dict and the git diff (None when clean or not in a repository)."""
    repo_dir = os.path.dirname(script) if script else os.getcwd()
    git, diff = git_info(repo_dir)
    host = host_probes()
    meta: dict[str, Any] = {
        "git": git,
        "entry_script": script,
        "command_line": safe_argv(sys.argv),
        "python_version": platform.python_version(),
        "python_executable": sys.executable,
        "os": host["os"],
        "host": socket.gethostname(),
        "cpu": {"model": _cpu_model(), "count": os.cpu_count()},
        "started_at": started_at,
        "env": safe_env(),
    }
    meta.update(_gpus(host["nvml"]))
    return meta, diff


def cache_dir() -> Path:
    """`<cache>/env`: the cached package lists and host probes (`<cache>` is
    `FWTRACK_CACHE_DIR`, else `$XDG_CACHE_HOME/fwtrack`, else `~/.cache/fwtrack`)."""
    from fwtrack.sdk.settings import FWTRACK_CACHE_DIR

    configured = FWTRACK_CACHE_DIR.get()
    if configured:
        root = Path(configured).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
        root = (Path(xdg) if xdg else Path.home() / ".cache") / "fwtrack"
    return root / "env"


CACHE_KEEP = 32
"""Cached package lists and host probes kept (the newest); older ones are removed."""
_INFO_SUFFIXES = (".dist-info", ".egg-info")


def environment_key(path: Sequence[str] | None = None) -> str:
    """What the installed distributions depend on, as a hex digest: `sys.prefix`, the path
    entries (`sys.path`, in order) and, in each, the names and mtimes of its `*.dist-info` and
    `*.egg-info` entries (a file entry, such as a zip, by its size and mtime). Installing,
    upgrading or removing a distribution changes it; other files in a path entry do not."""
    h = hashlib.sha256()
    h.update(f"{sys.prefix}\0{sys.version}\0".encode("utf-8", "surrogateescape"))
    for entry in sys.path if path is None else path:
        full = os.path.abspath(entry or ".")
        h.update(f"\1{full}\0".encode("utf-8", "surrogateescape"))
        try:
            if os.path.isdir(full):
                infos = []
                with os.scandir(full) as it:
                    for e in it:
                        if e.name.endswith(_INFO_SUFFIXES):
                            with contextlib.suppress(OSError):
                                infos.append(f"{e.name}\0{e.stat().st_mtime_ns}")
                for item in sorted(infos):
                    h.update(f"{item}\0".encode("utf-8", "surrogateescape"))
            else:
                st = os.stat(full)
                h.update(f"file\0{st.st_size}\0{st.st_mtime_ns}".encode())
        except OSError:
            h.update(b"missing")
    return h.hexdigest()


def _header(text: str, *names: str) -> dict[str, str]:
    """The first value of each of the header fields `names` (lower case) of a core metadata
    text, read as `email` reads them, up to the first blank line."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            break
        if line[:1] in " \t":
            continue  # a continuation line
        key, sep, value = line.partition(":")
        key = key.strip().lower()
        if sep and key in names and key not in found:
            found[key] = value.lstrip(" \t").rstrip("\r\n")
            if len(found) == len(names):
                break
    return found


def scan_requirements() -> str:
    """The installed distributions as `name==version` lines, sorted by name, read from each
    distribution's metadata header (only the Name and Version fields are parsed)."""
    import importlib.metadata  # only in the snapshot thread: keeps `import fwtrack` light

    lines: set[str] = set()
    for dist in importlib.metadata.distributions():
        text = dist.read_text("METADATA") or dist.read_text("PKG-INFO")
        fields = _header(text, "name", "version") if text else {}
        if "name" in fields and "version" in fields:
            name: str | None = fields["name"]
            version: str | None = fields["version"]
        else:  # an unusual layout: as importlib.metadata reads it
            meta = dist.metadata
            name = meta["Name"] if meta else None
            version = dist.version if name else None
        if name:
            lines.add(f"{name}=={version}")
    return "".join(f"{line}\n" for line in sorted(lines, key=str.lower))


def _cache_read(name: str) -> str | None:
    with contextlib.suppress(OSError, UnicodeDecodeError):
        path = cache_dir() / name
        text = path.read_text(encoding="utf-8")
        with contextlib.suppress(OSError):
            os.utime(path)  # used now: kept by the clean-up
        return text
    return None


def _cache_write(name: str, text: str) -> None:
    """Store `text` as `<cache>/env/<name>` (atomically) and keep the newest `CACHE_KEEP`."""
    with contextlib.suppress(OSError):
        folder = cache_dir()
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{name}.{os.getpid()}.{threading.get_ident()}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, folder / name)
        entries = sorted((e.stat().st_mtime_ns, e.path) for e in os.scandir(folder) if e.is_file())
        for _, stale in entries[:-CACHE_KEEP]:
            with contextlib.suppress(OSError):
                os.remove(stale)


def requirements() -> str:
    """The installed distributions as `name==version` lines, sorted by name: from the cache
    when this environment (`environment_key`) was scanned before, else scanned and cached."""
    name = f"requirements-{environment_key()}.txt"
    cached = _cache_read(name)
    if cached is not None:
        return cached
    text = scan_requirements()
    _cache_write(name, text)
    return text


def _boot_id() -> str | None:
    with (
        contextlib.suppress(OSError),
        open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f,
    ):
        return f.read().strip() or None
    return None


def host_probes() -> dict[str, Any]:
    """`{"os": platform.platform(), "nvml": the NVML GPU answer}`, cached per boot of this
    host (and Python executable): neither changes without a reboot. Without a boot id (not
    Linux) they are probed every time."""
    boot = _boot_id()
    spec = importlib.util.find_spec("pynvml") if boot else None
    key = hashlib.sha256(
        json.dumps(
            [boot, socket.gethostname(), sys.executable, spec.origin if spec else None]
        ).encode("utf-8", "surrogateescape")
    ).hexdigest()
    name = f"host-{key}.json"
    if boot is not None:
        cached = _cache_read(name)
        if cached is not None:
            with contextlib.suppress(ValueError):
                probes = json.loads(cached)
                if isinstance(probes, dict) and isinstance(probes.get("nvml"), dict):
                    return probes
    probes = {"os": platform.platform(), "nvml": _nvml_gpus()}
    if boot is not None:
        _cache_write(name, json.dumps(probes))
    return probes


def _into(out: list[str | BaseException], make: Callable[[], str]) -> None:
    """Append `make()` (or what it raised) to `out`: the body of a helper thread."""
    try:
        out.append(make())
    except BaseException as exc:  # handed to the thread that waits for it
        out.append(exc)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class Snapshot:
    """Writes a run's snapshot in a daemon thread; `wait()` joins it (bounded)."""

    def __init__(
        self,
        run_dir: str,
        *,
        started_at: float,
        save_code: bool,
        capture_env: bool,
        on_written: Callable[[], None] | None = None,
    ) -> None:
        self.files_dir = Path(run_dir) / FILES_DIR
        self._started_at = started_at
        self._save_code = save_code
        self._capture_env = capture_env
        self._on_written = on_written
        from fwtrack.sdk import notebook

        self._notebook = notebook.in_ipython()
        self._script = notebook.notebook_path() if self._notebook else _entry_script()
        self._argv = list(sys.argv)
        self.written = False
        """True once the files are written (or failed to be)."""
        self._thread = threading.Thread(target=self._run, name="fwtrack-snapshot", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._write_all()
        except Exception as exc:  # tracker trouble never reaches the training loop
            from fwtrack.sdk.values import warn

            warn(f"fwtrack: the code and environment snapshot was not written: {exc}")
        self.written = True
        if self._on_written is not None:
            self._on_written()

    def _write_all(self) -> None:
        if not (self._save_code or self._capture_env):
            return
        # The package list (a cache hit, or a scan) while git runs.
        packages: list[str | BaseException] = []
        scan = threading.Thread(
            target=_into, args=(packages, requirements), name="fwtrack-packages", daemon=True
        )
        if self._capture_env:
            scan.start()
        meta, diff = collect_metadata(self._started_at, self._script)
        meta["command_line"] = safe_argv(self._argv)
        if self._capture_env:
            scan.join()
            (listed,) = packages
            if isinstance(listed, BaseException):
                raise listed
            _write(self.files_dir / "metadata.json", json.dumps(meta, indent=2).encode())
            _write(self.files_dir / "requirements.txt", listed.encode())
        if self._save_code:
            if diff:
                _write(self.files_dir / "diff.patch", diff.encode())
            if self._notebook:
                self._write_notebook()
            elif self._script is not None:
                target = self.files_dir / "code" / os.path.basename(self._script)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(self._script, target)

    def _write_notebook(self) -> None:
        from fwtrack.sdk import notebook

        code = notebook.notebook_code()
        if code is not None:
            _write(self.files_dir / "code" / code[0], code[1])

    def wait(self, timeout: float = WAIT_TIMEOUT) -> None:
        """Join the snapshot thread (bounded); in a notebook, then write the notebook again as
        it is at `finish` (the cells run since `init` included)."""
        self._thread.join(timeout)
        if self._notebook and self._save_code and not self._thread.is_alive():
            try:
                self._write_notebook()
            except Exception as exc:  # tracker trouble never reaches the user's code
                from fwtrack.sdk.values import warn

                warn(f"fwtrack: the notebook was not saved with the run: {exc}")


def save_file(run_dir: str, path: str | os.PathLike[str], name: str | None) -> Path:
    """Copy `path` into `<run_dir>/files/<name>` (default: its base name); returns the copy."""
    src = Path(os.fspath(path))
    if not src.is_file():
        raise FileNotFoundError(f"run.save({os.fspath(path)!r}): no such file")
    rel = name if name is not None else src.name
    if not isinstance(rel, str) or not rel.strip():
        raise ValueError(f"run.save name must be a non-empty relative path, got {name!r}")
    parts = Path(rel).parts
    if Path(rel).is_absolute() or ".." in parts or rel.startswith("."):
        raise ValueError(
            f"run.save name {rel!r} must be a relative path inside the run's files, e.g. "
            "'model/config.yaml'"
        )
    target = Path(run_dir) / FILES_DIR / rel
    copy_replace(src, target)
    return target
