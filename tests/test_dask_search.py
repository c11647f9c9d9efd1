"""A GridSearchCV of scratchnn estimators on a Dask cluster picks the same parameters, with the
same scores, as the sequential search (needs ``pip install "scratchnn[distributed]"``).

The cluster is a LocalCluster of 2 worker processes on 127.0.0.1; the search reaches it through
joblib's "dask" backend, exactly as it would reach a real cluster through
``Client("tcp://scheduler:8786")``.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from scratchnn.sklearn import NeuralNetClassifier

distributed = pytest.importorskip("distributed")
joblib = pytest.importorskip("joblib")

GRID = {  # 2 x 2 x 2 = 8 candidates, 2 folds each: 16 fits
    "neuralnetclassifier__hidden_layer_sizes": [(8,), (16, 8)],
    "neuralnetclassifier__learning_rate": [0.003, 0.03],
    "neuralnetclassifier__epochs": [5, 15],
}


def _search():
    X, y = make_classification(n_samples=200, n_features=8, n_informative=5, n_classes=3,
                               random_state=0)
    pipe = make_pipeline(StandardScaler(), NeuralNetClassifier(random_state=0))
    return GridSearchCV(pipe, GRID, cv=2, n_jobs=-1), X, y


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None,
                                       silence_logs=logging.ERROR)
    try:
        with distributed.Client(cluster, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
            yield client
    finally:
        cluster.close(timeout=60)


def test_grid_search_on_two_dask_workers_equals_the_sequential_search(client):
    search, X, y = _search()
    with distributed.get_task_stream(client) as tasks, joblib.parallel_backend(
            "dask", wait_for_workers_timeout=120):
        on_dask = search.fit(X, y)
    # The fits ran on the cluster, on both workers.
    assert len({task["worker"] for task in tasks.data}) == 2

    sequential, _, _ = _search()
    sequential.set_params(n_jobs=1).fit(X, y)
    assert len(on_dask.cv_results_["params"]) == 8
    assert on_dask.best_params_ == sequential.best_params_
    for key in ("split0_test_score", "split1_test_score", "mean_test_score", "rank_test_score"):
        np.testing.assert_array_equal(on_dask.cv_results_[key], sequential.cv_results_[key])
    np.testing.assert_array_equal(on_dask.predict_proba(X), sequential.predict_proba(X))
