"""corrupt_checkpoint.py — deterministic corruptions of a proact checkpoint's HDF5 metadata.

Usage: corrupt_checkpoint.py SRC.h5 OUT_DIR [--seed S] [--random N] [--cases]

Writes OUT_DIR/NNNN.h5 copies of SRC, each with one mutation, and OUT_DIR/manifest.tsv
(file<TAB>description). Mutations land outside the large float datasets (found with h5py:
each dataset's offset and storage size), i.e. in the superblock, object headers, attributes,
B-trees, local heaps and symbol-table nodes, where a wrong byte changes how HDF5 reads the
file rather than one weight (which the checksums catch).

--cases: the fixed cases, each found by this fuzzing and located by structure (a signature or
an encoded message), not by offset, so that they survive changes of the layout:
  heap-size-3PB#k   local heap k ('HEAP' signature, in file order): its data-segment length
                    gets 0x0b in its seventh byte, ~3.1 PB. HDF5 1.10 asks malloc for that much in
                    H5C_protect: under ASan the process aborts (allocation-size-too-big) unless
                    ASAN_OPTIONS has allocator_may_return_null=1; the Release build gets NULL.
  heap-addr-undef#k local heap k's data-segment address set to all 0xff: HDF5's default (sec2)
                    driver then segfaults in its metadata accumulator (H5F__accum_read), even in
                    the Release build; proact reads checkpoints through MPI-IO, which has none.
                    Heap 0 (the root group's) still breaks HDF5 1.10.8 at H5Fclose with either
                    driver: test_corrupt_checkpoint.sh lists it as a known HDF5 bug.
  float-size-4GB    the first float32 datatype message's size set to 0xff000004: H5Dread then
                    converts 4 GB "floats" for ~20 s unless the reader checks the type first.
  rank-2            the first 1-D dataspace message (version 1, max dims) says rank 2: a reader
                    that asks for the dims without checking the rank overflows its dims array
                    (HDF5 1.10.8 happens to refuse this one at H5Dopen already).
--random N: N mutations from a fixed seed, a third each of: one random byte; eight random
bytes; 0xff over the high bytes of an 8-byte little-endian field whose value looks like a
length or an address (1 .. file size).
"""
import argparse
import os
import random
import re
import struct
import sys

import h5py


def metadata_gaps(path):
    """[(lo, hi)) byte ranges of the file not covered by a dataset's raw data."""
    spans = []

    def visit(_name, obj):
        if isinstance(obj, h5py.Dataset):
            off = obj.id.get_offset()
            if off is not None:
                spans.append((off, off + obj.id.get_storage_size()))

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    size = os.path.getsize(path)
    gaps, pos = [], 0
    for lo, hi in sorted(spans):
        if lo > pos:
            gaps.append((pos, lo))
        pos = max(pos, hi)
    if pos < size:
        gaps.append((pos, size))
    return gaps


def fixed_cases(data):
    cases = []
    heaps = [m.start() for m in re.finditer(b"HEAP", data)]
    if not heaps:
        sys.exit("corrupt_checkpoint.py: no local heap in the checkpoint")
    for k, h in enumerate(heaps):
        size = struct.unpack_from("<Q", data, h + 8)[0] | 0x000B000000000000
        cases.append((f"heap-size-3PB#{k}", h + 8, struct.pack("<Q", size)))
    for k, h in enumerate(heaps):
        cases.append((f"heap-addr-undef#{k}", h + 24, b"\xff" * 8))
    # float32 LE: class/version 0x11, bit field 20 1f 00, then size 4, offset 0, precision 32,
    # exponent at 23 (8 bits), mantissa at 0 (23 bits), bias 127
    ft = re.search(re.escape(b"\x11\x20\x1f\x00\x04\x00\x00\x00\x00\x00\x20\x00\x17\x08\x00\x17\x7f"), data)
    if ft:
        cases.append(("float-size-4GB", ft.start() + 4, struct.pack("<I", 0xFF000004)))
    # dataspace v1: version 1, rank 1, flags 1 (max dims), 5 reserved bytes, dim, max dim
    sp = re.search(rb"\x01\x01\x01\x00{5}(.{8})\1", data, re.DOTALL)
    if sp:
        cases.append(("rank-2", sp.start() + 1, b"\x02"))
    return cases


def random_cases(data, gaps, seed, n):
    rng = random.Random(seed)
    weights = [hi - lo for lo, hi in gaps]
    size = len(data)
    # 8-byte little-endian values that look like a length or an address
    fields = [i for lo, hi in gaps for i in range(lo, hi - 7) if 1 <= struct.unpack_from("<Q", data, i)[0] <= size]
    cases = []
    for k in range(n):
        kind = k % 3
        if kind == 2 and fields:
            off = rng.choice(fields)
            high = rng.choice([2, 3, 4, 8])  # how many of the high bytes become 0xff
            new = bytearray(data[off : off + 8])
            new[8 - high :] = b"\xff" * high
            cases.append((f"ff-high{high}@{off}", off, bytes(new)))
            continue
        lo, hi = rng.choices(gaps, weights)[0]
        width = 1 if kind == 0 else 8
        off = rng.randrange(lo, max(lo + 1, hi - width + 1))
        new = bytes(rng.randrange(256) for _ in range(width))
        if new == data[off : off + width]:
            new = bytes(b ^ 0xFF for b in new)
        cases.append((f"rand{width}@{off}={new.hex()}", off, new))
    return cases


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--random", type=int, default=0)
    ap.add_argument("--cases", action="store_true")
    a = ap.parse_args()
    data = open(a.src, "rb").read()
    cases = fixed_cases(data) if a.cases else []
    cases += random_cases(data, metadata_gaps(a.src), a.seed, a.random)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "manifest.tsv"), "w") as man:
        for i, (what, off, new) in enumerate(cases):
            name = os.path.join(a.out, f"{i:04d}.h5")
            mutated = bytearray(data)
            mutated[off : off + len(new)] = new
            with open(name, "wb") as f:
                f.write(mutated)
            man.write(f"{name}\t{what}\n")


if __name__ == "__main__":
    main()
