#!/usr/bin/env python3
"""Proves that a build used nothing but what scripts/install-deps.sh installs.

Every system header the compiler read (the build's .d dependency files) and every shared library
the built binaries load (ldd) must belong to a Debian package that install-deps.sh names, to one
of those packages' dependencies (apt-cache depends --recurse --installed), or to the toolchain
(build-essential and cmake, which install-deps.sh names too). A machine where a package was
installed by hand cannot fool it: the file's package is looked up (dpkg-query -S), not whether
the file exists. Exits 1 naming each file and its package otherwise.

Usage: python3 scripts/check-build-deps.py [--without PACKAGE]... BUILD_DIR...
  --without PACKAGE   check as if install-deps.sh did not name PACKAGE (to see the check fail)
"""
import argparse
import os
import re
import subprocess
import sys

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(SCRIPTS)


def say(message):
    print(f"check-build-deps: {message}", flush=True)


def listed_packages():
    out = subprocess.run(["bash", os.path.join(SCRIPTS, "install-deps.sh"), "--list"],
                         check=True, capture_output=True, text=True).stdout
    return [line.strip() for line in out.splitlines() if line.strip()]


def allowed_packages(listed):
    """The listed packages and everything they pull in, as installed here."""
    out = subprocess.run(
        ["apt-cache", "depends", "--recurse", "--installed", "--no-recommends", "--no-suggests",
         "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances"] + listed,
        check=True, capture_output=True, text=True).stdout
    allowed = set(listed)
    for line in out.splitlines():
        # "pkg", "  Depends: pkg", " |Depends: pkg" (an alternative), "    provider" (of a virtual <pkg>)
        name = line.split(":", 1)[1] if re.match(r"\s+\|?\w+:", line) else line
        name = name.strip()
        if name and not name.startswith("<"):
            allowed.add(name.split(":")[0])
    return allowed


def system_files_of_build(build):
    """System headers from the .d files, shared libraries from ldd of the ELF binaries."""
    headers, binaries = set(), []
    source = os.path.realpath(SOURCE)
    for root, _, files in os.walk(build):
        for name in files:
            path = os.path.join(root, name)
            if name.endswith(".d"):
                with open(path, errors="replace") as file:
                    text = file.read().replace("\\\n", " ")
                for token in text.split():
                    if token.endswith(":") or not token.startswith("/"):
                        continue
                    real = os.path.realpath(token)
                    if not real.startswith(source + os.sep) and os.path.exists(real):
                        headers.add(os.path.normpath(token))
            elif os.access(path, os.X_OK) and not os.path.islink(path):
                with open(path, "rb") as file:
                    if file.read(4) == b"\x7fELF":
                        binaries.append(path)
    libraries = set()
    for binary in binaries:
        result = subprocess.run(["ldd", binary], capture_output=True, text=True)
        for line in result.stdout.splitlines():
            match = re.search(r"=>\s+(/\S+)", line) or re.match(r"\s*(/\S+)\s+\(", line)
            if match:
                libraries.add(match.group(1))
    return headers, libraries, len(binaries)


def variants(path):
    """The names dpkg may know a file by: as given, resolved, and across the /usr merge."""
    names = [path, os.path.realpath(path)]
    for name in list(names):
        if name.startswith("/usr/"):
            names.append(name[4:])
        elif re.match(r"/(lib|lib64|bin|sbin)/", name):
            names.append("/usr" + name)
    return list(dict.fromkeys(names))


def owners(paths):
    """path -> its package, or None; one dpkg-query for all the names."""
    names = sorted({name for path in paths for name in variants(path)})
    found = {}
    for start in range(0, len(names), 2000):
        result = subprocess.run(["dpkg-query", "-S"] + names[start:start + 2000],
                                capture_output=True, text=True)
        for line in result.stdout.splitlines():
            # "pkg:arch, other: /path" (diversions: "diversion by ...")
            if line.startswith("diversion"):
                continue
            packages, _, name = line.partition(": ")
            found.setdefault(name.strip(), packages.split(",")[0].strip().split(":")[0])
    return {path: next((found[name] for name in variants(path) if name in found), None) for path in paths}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--without", action="append", default=[], metavar="PACKAGE")
    parser.add_argument("builds", nargs="+", metavar="BUILD_DIR")
    args = parser.parse_args()

    listed = [package for package in listed_packages() if package not in args.without]
    allowed = allowed_packages(listed)
    headers, libraries, binary_count = set(), set(), 0
    for build in args.builds:
        if not os.path.isdir(build):
            say(f"FAILED: {build} is not a build folder")
            return 1
        build_headers, build_libraries, count = system_files_of_build(build)
        headers |= build_headers
        libraries |= build_libraries
        binary_count += count
    if not headers or not binary_count:
        say(f"FAILED: no dependency files or binaries in {' '.join(args.builds)}: build first")
        return 1

    problems = []
    for kind, files in (("header", headers), ("library", libraries)):
        for path, package in sorted(owners(files).items()):
            if package is None:
                problems.append(f"{kind} {path} belongs to no Debian package (installed by hand?)")
            elif package not in allowed:
                problems.append(f"{kind} {path} is from {package}, which scripts/install-deps.sh neither "
                                f"names nor pulls in: add {package} to it")
    say(f"{len(headers)} system headers and {len(libraries)} shared libraries of {binary_count} binaries, "
        f"against {len(listed)} listed packages ({len(allowed)} with their dependencies)")
    for problem in problems:
        say(f"FAILED: {problem}")
    if problems:
        return 1
    say("every one is from a package that install-deps.sh installs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
