#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/corpus/ (all but envelope, which
build-fuzz/bin/make_envelope_seeds writes) from the test data and configs
of the repository, in each target's input format (see the target's source).
Run from the repository root: tools/fuzz/make_seeds.py"""

import gzip
import os
import re
import shutil
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "tests/fuzz/corpus")
BAD_DATA = os.path.join(ROOT, "tests/algorithms/data/bad")


def read(path):
    with open(os.path.join(ROOT, path), "rb") as f:
        return f.read()


def corpus(name):
    d = os.path.join(CORPUS, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def write(d, name, data):
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def from_files(name, paths, limit=4096):
    d = corpus(name)
    for p in paths:
        data = read(p)
        if len(data) <= limit:
            write(d, os.path.basename(p), data)
    return d


def libsvm():
    d = from_files("libsvm", [
        "tests/data/synthetic.libsvm",
        "tests/launcher/bad/data/lasso-nan.libsvm",
        "tests/launcher/bad/data/lasso-no-target.libsvm",
        "tests/launcher/bad/data/comments-only.libsvm",
    ] + ["tests/algorithms/data/bad/" + f
         for f in sorted(os.listdir(BAD_DATA)) if f.endswith(".libsvm")])
    write(d, "regression.libsvm",
          b"0.5 1:1 3:-2\n-1.25 2:0.5 4:1 # note\n\n2 1:-1 2:1 3:0.25\r\n")


def idx_input(limit, images, labels):
    return bytes([limit]) + struct.pack("<H", len(images)) + images + labels


def idx():
    d = corpus("idx")
    images = read("tests/algorithms/data/bad/good-images.idx")
    labels = read("tests/algorithms/data/bad/good-labels.idx")
    write(d, "good", idx_input(0, images, labels))
    write(d, "good-limit-2", idx_input(2, images, labels))
    write(d, "good-gzip", idx_input(0, gzip.compress(images, mtime=0),
                                    gzip.compress(labels, mtime=0)))
    for f in sorted(os.listdir(BAD_DATA)):
        if f.startswith("idx-images-"):
            write(d, f, idx_input(0, read("tests/algorithms/data/bad/" + f),
                                  labels))
        elif f.startswith("idx-labels-"):
            write(d, f, idx_input(0, images,
                                  read("tests/algorithms/data/bad/" + f)))


def trace():
    bad = "tests/algorithms/stragglers/bad/"
    d = from_files("trace", ["tests/data/straggler_trace.csv"] + [
        bad + f for f in sorted(os.listdir(os.path.join(ROOT, bad)))
        if f.endswith(".csv")])
    write(d, "censored.csv", b"iteration,worker,seconds,censored\n"
          b"0,0,0.5,0\n0,1,0.9,1\n1,0,0.4,0\n1,1,0.4,1\n2,1,0.3,0\n")


def model():
    bad = "tests/algorithms/cutoff/bad/"
    d = from_files("model", [bad + f for f in sorted(
        os.listdir(os.path.join(ROOT, bad))) if f.endswith(".dmm")])
    # model-parameter-nan.dmm with its nan made a number: a valid model.
    good = read(bad + "model-parameter-nan.dmm").replace(b"nan", b"-0.25")
    write(d, "good.dmm", good)


def docword():
    d = corpus("docword")
    vocab = read("tests/data/uci-mini/vocab.mini.txt")
    write(d, "mini", read("tests/data/uci-mini/docword.mini.txt") + b"\0" +
          vocab)
    for f in sorted(os.listdir(BAD_DATA)):
        data = read("tests/algorithms/data/bad/" + f)
        if f.startswith("docword-") and len(data) <= 4096:
            write(d, f, data + b"\0" + vocab)
        elif f.startswith("vocab-"):
            write(d, f, read("tests/algorithms/data/bad/good-docword.txt") +
                  b"\0" + data)


def word_topic():
    d = corpus("word_topic")
    # vocabulary 6, 4 topics: two bytes of vocabulary - 1, one of topics - 1.
    head = struct.pack("<H", 5) + bytes([3])
    write(d, "good", head + b"0 0:3 2:1\n3 1:7\n\n5 3:2147483647 0:1\n")
    write(d, "twice", head + b"1 0:1\n1 1:1\n")
    write(d, "bad-entry", head + b"2 0:1 1-2\n")
    write(d, "topic-range", head + b"2 4:1\n")


def brown():
    d = corpus("brown")
    stop = b"# stop words\nthe\nAn\n\nof\n"
    mini = "tests/data/brown-mini/"
    write(d, "mini", stop + b"\0" + read(mini + "ca01") + b"\0" +
          read(mini + "ca02") + b"\0" + read(mini + "cb01"))
    write(d, "one", stop + b"\0" + read(mini + "cr09"))
    write(d, "bad-token", stop + b"\0" + b"word/nn notag\n")
    write(d, "bad-stopwords", b"two words\n\0" + read(mini + "ca01"))


# The data files fuzz_topology writes next to the topology, for a path
# written in a seed.
def data_file(m):
    path = m.group(0)
    name = os.path.basename(path)
    if path.endswith(".libsvm"):
        return "lasso.libsvm" if "lasso" in name else "train.libsvm"
    if path.endswith(".txt"):
        return ("docword.txt" if "docword" in name else
                "vocab.txt" if "vocab" in name else path)
    return "trace.csv" if path.endswith(".csv") else "model.dmm"


def topology():
    d = corpus("topology")
    bad = "tests/launcher/bad/"
    names = ["configs/" + f for f in sorted(os.listdir(
        os.path.join(ROOT, "configs"))) if f.endswith(".yaml")]
    names += [bad + f + ".yaml" for f in [
        "bdsgd-model-too-large", "cutoff-unknown-rule", "duplicate-key",
        "idx-count-mismatch", "lasso-alpha-zero", "lda-data-blocks",
        "lda-word-out-of-range", "libsvm-bad-line-later", "port-clash",
        "several-problems", "stragglers", "straggler-rule",
        "table-staleness-without-ssp", "unknown-key-did-you-mean",
        "yaml-syntax", "node-not-a-mapping"]]
    for p in names:
        text = read(p).decode()
        # Comments only make the seed longer.
        text = "\n".join(l for l in text.split("\n")
                         if not l.lstrip().startswith("#")) + "\n"
        text = re.sub(r"(?<=: )[^\s,}]+\.(libsvm|txt|csv|dmm)\b", data_file,
                      text)
        write(d, os.path.basename(p), text.encode())
    # The IDX files next to the topology, and keys that need no file.
    write(d, "idx-local.yaml", b"""cluster:
  nodes:
    - {name: a, host: localhost, port: 30001, control_port: 30002,
       roles: [coordinator/0, server/0, worker/0, worker/1]}
job:
  algorithm: mlp
  hidden: [8]
  data: {format: idx, train_images: images.idx, train_labels: labels.idx,
         test_images: images.idx, test_labels: labels.idx}
  consistency: ssp
  staleness: 2
  epochs: 1
  batch_size: 1
options: {inspect: write}
""")


if __name__ == "__main__":
    libsvm()
    idx()
    trace()
    model()
    docword()
    word_topic()
    brown()
    topology()
