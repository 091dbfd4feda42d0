#!/usr/bin/env python3
"""The floors under bench_ckpt's read (docs/performance.md, "Checkpoint I/O"): how fast the page
cache gives a file's bytes (1) to a 1 MiB buffer used over and over, as dd does, (2) to a
resident buffer of the file's size, as any reader that keeps the data must, and (3) to two
processes at once, each into its own resident buffer, as two ranks that both hold every parameter
must. 1 MiB preads, best of 5; run it on a checkpoint bench_ckpt just wrote (warm cache).
usage: bench/ckpt_floor.py FILE"""
import json
import multiprocessing as mp
import os
import sys
import time

MIB = 1 << 20


def read_all(fd, n, views):
    t = time.perf_counter()
    for o in range(0, n, MIB):
        os.preadv(fd, [views(o)], o)
    return time.perf_counter() - t


def reader(path, n, barrier, out):
    buf = memoryview(bytearray(n))
    fd = os.open(path, os.O_RDONLY)
    for i in range(5):
        barrier.wait()
        out.put((i, read_all(fd, n, lambda o: buf[o:o + MIB])))


def main():
    path = sys.argv[1]
    n = os.path.getsize(path)
    fd = os.open(path, os.O_RDONLY)
    small, big = memoryview(bytearray(MIB)), memoryview(bytearray(n))
    reused = min(read_all(fd, n, lambda o: small) for _ in range(5))
    resident = min(read_all(fd, n, lambda o: big[o:o + MIB]) for _ in range(5))
    barrier, out = mp.Barrier(2), mp.Queue()
    procs = [mp.Process(target=reader, args=(path, n, barrier, out)) for _ in range(2)]
    for p in procs:
        p.start()
    rounds = {}
    for _ in range(10):  # a round ends when both processes have read the whole file
        i, t = out.get()
        rounds[i] = max(rounds.get(i, 0.0), t)
    for p in procs:
        p.join()
    two = min(rounds.values())
    print(json.dumps({"bytes": n, "reused_1mib_buffer_gb_s": round(n / reused / 1e9, 3),
                      "resident_buffer_gb_s": round(n / resident / 1e9, 3),
                      "two_processes_each_whole_file_gb_s": round(n / two / 1e9, 3)}))


if __name__ == "__main__":
    main()
