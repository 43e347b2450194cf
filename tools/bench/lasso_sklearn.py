"""scikit-learn's Lasso on a LIBSVM file: the baseline of tools/bench/lasso.sh.

Prints one JSON object: fit seconds, the final duality gap on the
(1/2n)-scaled objective, the objective, non-zeros, epochs, and the tol that
makes metronome stop at exactly that gap (gap <= tol * ||y||^2 / n).
"""
import json
import sys
import time

import numpy as np
from sklearn.datasets import load_svmlight_file
from sklearn.linear_model import Lasso

path, alpha, tol = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
features = int(sys.argv[4])
X, y = load_svmlight_file(path, n_features=features)
X = X.tocsc()
if X.nnz == X.shape[0] * X.shape[1]:
    X = np.asfortranarray(X.toarray())
n = X.shape[0]
start = time.perf_counter()
model = Lasso(alpha=alpha, tol=tol, fit_intercept=False, max_iter=100000)
model.fit(X, y)
seconds = time.perf_counter() - start
r = y - X @ model.coef_
objective = r @ r / (2 * n) + alpha * np.abs(model.coef_).sum()
gap = float(model.dual_gap_) / n
print(json.dumps({
    "sklearn_s": seconds,
    "gap": gap,
    "objective": float(objective),
    "nnz": int(np.count_nonzero(model.coef_)),
    "epochs": int(model.n_iter_),
    "coordinate_updates": int(model.n_iter_) * X.shape[1],
    "target_tol": gap * n / float(y @ y),
}))
