"""What bench/prefetch/run.sh leaves for its reports: TMPDIR/runs.tsv, one
"key=value ..." line per run, and the meta lines on standard input."""
import os


def read_runs(tmp):
    runs = []
    with open(os.path.join(tmp, "runs.tsv")) as f:
        for line in f:
            r = {}
            for kv in line.split():
                k, v = kv.split("=", 1)
                try:
                    r[k] = float(v) if "." in v else int(v)
                except ValueError:
                    r[k] = v
            runs.append(r)
    return runs


def read_meta(stream):
    return dict(l.rstrip("\n").split("=", 1) for l in stream if "=" in l)
