"""Builds tests/ecosystem/helmrender offline from Debian's Go sources.

Nothing is downloaded: GOPROXY=off, and every module resolves through a
`replace` line in go.mod, either to /usr/share/gocode/src or to a stub under
./.stubs/<module path> that this builder creates in a scratch copy.
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import time

SOURCE_DIR = pathlib.Path(__file__).resolve().parent / "helmrender"
GOCODE = pathlib.Path("/usr/share/gocode/src")
STUB_RE = re.compile(r"^\s*(\S+)\s+=>\s+\./\.stubs/(\S+)\s*$", re.MULTILINE)


class BuildError(RuntimeError):
    pass


def _make_stubs(work: pathlib.Path) -> list[str]:
    """Creates ./.stubs/<module> for each stub replace line; returns the modules."""
    go_mod = (work / "go.mod").read_text()
    modules = []
    for module, stub_path in STUB_RE.findall(go_mod):
        if module != stub_path:
            raise BuildError(f"stub path for {module} must be ./.stubs/{module}")
        dest = work / ".stubs" / stub_path
        debian_copy = GOCODE / stub_path
        if debian_copy.is_dir():
            shutil.copytree(debian_copy, dest, symlinks=True)
            dest.chmod(0o755)
        else:
            dest.mkdir(parents=True)
        (dest / "go.mod").write_text(f"module {module}\n")
        modules.append(module)
    return modules


def default_cache_dir() -> pathlib.Path:
    """Go build cache kept between runs: $HELMRENDER_GOCACHE, else build-ecosystem/go-cache
    in the repository (ignored by git like every build*/ directory)."""
    configured = os.environ.get("HELMRENDER_GOCACHE")
    if configured:
        return pathlib.Path(configured)
    return SOURCE_DIR.parents[2] / "build-ecosystem" / "go-cache"


def build(scratch: pathlib.Path, cache_dir: pathlib.Path | None = None
          ) -> tuple[pathlib.Path, float]:
    """Builds the renderer under `scratch`; returns (binary, seconds taken).

    Sources and the binary live in `scratch`; compiled packages go to `cache_dir`
    (default: default_cache_dir()), so only the first build compiles sprig and
    its dependencies. Pass a directory inside `scratch` for a cold build.
    """
    if shutil.which("go") is None:
        raise BuildError("go not found (Debian package golang-go)")
    if not (GOCODE / "github.com/Masterminds/sprig").is_dir():
        raise BuildError("sprig sources missing (golang-github-masterminds-sprig-dev)")
    work = scratch / "src"
    work.mkdir(parents=True)
    (cache_dir or default_cache_dir()).mkdir(parents=True, exist_ok=True)
    for name in ("main.go", "go.mod"):
        shutil.copy2(SOURCE_DIR / name, work / name)
    _make_stubs(work)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(scratch),
        "GOPROXY": "off",
        "GOFLAGS": "-mod=mod",
        "GOSUMDB": "off",
        "GO111MODULE": "on",
        "GOCACHE": str(cache_dir or default_cache_dir()),
        "GOPATH": str(scratch / "gopath"),
        "CGO_ENABLED": "0",
    }
    binary = scratch / "helmrender"
    started = time.monotonic()
    proc = subprocess.run(
        ["go", "build", "-o", str(binary), "."],
        cwd=work, env=env, capture_output=True, text=True, timeout=300,
    )
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        raise BuildError(f"go build failed:\n{proc.stdout}{proc.stderr}")
    return binary, elapsed


if __name__ == "__main__":
    import sys
    import tempfile

    # Reports a cold build (fresh cache) and a warm one (the default cache).
    with tempfile.TemporaryDirectory(prefix="helmrender-") as tmp:
        _, cold = build(pathlib.Path(tmp) / "cold", pathlib.Path(tmp) / "cache")
        _, warm = build(pathlib.Path(tmp) / "warm")
        print(f"helmrender: cold build {cold:.1f}s, with cache {warm:.1f}s", file=sys.stderr)
