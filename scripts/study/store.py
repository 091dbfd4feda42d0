#!/usr/bin/env python3
"""A finished study unit's results as one small archive, and back (scripts/reproduce.sh --store).

  store.py pack UNIT_DIR ARCHIVE [FILE ...]   FILEs (relative to UNIT_DIR; directories whole; the
                                             absent ones skipped) into ARCHIVE, a tar.xz
  store.py unpack ARCHIVE UNIT_DIR           ARCHIVE's files into UNIT_DIR (created; must not exist),
                                             with UNIT_DIR/stored.txt naming ARCHIVE: the mark of a
                                             unit that was not run here

What the report reads is kept exactly, except one field: every instances.log line loses its
"elapsed" list. Those are wall-clock seconds of one machine (computation-aware latency), which the
study does not report; as noise they would be most of the compressed size. The archive is
reproducible: sorted names, no times or owners, so the same results give the same bytes."""
import io
import json
import lzma
import os
import sys
import tarfile


def stored_bytes(path):
    """The file's bytes as stored: instances.log without "elapsed", everything else as it is."""
    with open(path, "rb") as f:
        data = f.read()
    if os.path.basename(path) != "instances.log":
        return data
    out = []
    for lineno, line in enumerate(data.decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as e:
            raise SystemExit(f"store: {path}:{lineno}: {e}")
        record.pop("elapsed", None)
        out.append(json.dumps(record, ensure_ascii=False) + "\n")
    return "".join(out).encode("utf-8")


def files_under(unit, names):
    """Relative paths of the regular files named (directories: every file below), sorted."""
    found = []
    for name in names:
        path = os.path.join(unit, name)
        if os.path.isfile(path):
            found.append(name)
        elif os.path.isdir(path):
            for root, _, files in os.walk(path):
                found += [os.path.relpath(os.path.join(root, f), unit) for f in files]
    return sorted(set(found))


def pack(unit, archive, names):
    files = files_under(unit, names)
    if not files:
        raise SystemExit(f"store: {unit}: none of {' '.join(names)}")
    tmp = archive + ".tmp"
    os.makedirs(os.path.dirname(os.path.abspath(archive)), exist_ok=True)
    with lzma.open(tmp, "wb", preset=9 | lzma.PRESET_EXTREME) as xz, tarfile.open(fileobj=xz, mode="w") as tar:
        for rel in files:
            data = stored_bytes(os.path.join(unit, rel))
            info = tarfile.TarInfo(rel)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    os.replace(tmp, archive)
    print(f"store: {len(files)} files of {unit} -> {archive} ({os.path.getsize(archive)} bytes)")


def unpack(archive, unit):
    if os.path.exists(unit):
        raise SystemExit(f"store: {unit} exists; unpack makes a new unit directory")
    tmp = unit + ".tmp"
    os.makedirs(tmp)
    with tarfile.open(archive, "r:xz") as tar:
        for member in tar.getmembers():
            if not member.isfile() or member.name.startswith("/") or ".." in member.name.split("/"):
                raise SystemExit(f"store: {archive}: {member.name}: not a plain relative file")
        tar.extractall(tmp)
    with open(os.path.join(tmp, "stored.txt"), "w") as f:
        f.write(archive + "\n")
    os.replace(tmp, unit)


def main(argv):
    if len(argv) >= 3 and argv[0] == "pack":
        pack(argv[1], argv[2], argv[3:])
    elif len(argv) == 3 and argv[0] == "unpack":
        unpack(argv[1], argv[2])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
