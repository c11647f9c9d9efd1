"""scratchnn.threads: BLAS thread limits checked against threadpoolctl's own report."""

import pytest

threadpoolctl = pytest.importorskip("threadpoolctl")

from scratchnn.threads import (  # noqa: E402
    default_threads,
    get_num_threads,
    set_num_threads,
    threads,
)


def blas_counts():
    """Each BLAS library's thread count, as threadpoolctl reports it (other pools ignored)."""
    return {i["filepath"]: i["num_threads"] for i in threadpoolctl.threadpool_info()
            if i["user_api"] == "blas"}


def other_counts():
    return {i["filepath"]: i["num_threads"] for i in threadpoolctl.threadpool_info()
            if i["user_api"] != "blas"}


@pytest.fixture(autouse=True)
def restore_blas():
    if not blas_counts():
        pytest.skip("threadpoolctl finds no BLAS it can control in this NumPy.")
    before = blas_counts()
    yield
    set_num_threads(None)
    assert blas_counts() == before


@pytest.mark.parametrize("n", [1, 2, 3])
def test_set_then_get_matches_threadpoolctl(n):
    set_num_threads(n)
    assert set(blas_counts().values()) == {n}
    assert get_num_threads() == n


def test_get_reports_what_blas_uses_now():
    assert get_num_threads() == max(blas_counts().values())


def test_set_returns_previous_setting_and_none_restores_defaults():
    defaults = blas_counts()
    assert set_num_threads(1) is None  # the library defaults held
    assert set_num_threads(2) == 1
    assert set_num_threads(None) == 2
    assert blas_counts() == defaults
    previous = set_num_threads(1)
    set_num_threads(previous)  # the round trip a caller does by hand
    assert blas_counts() == defaults


def test_only_blas_pools_are_touched():
    others = other_counts()
    set_num_threads(1)
    assert other_counts() == others


def test_context_manager_limits_inside_and_restores_after():
    set_num_threads(2)
    with threads(1):
        assert set(blas_counts().values()) == {1}
        with threads(3):
            assert get_num_threads() == 3
        assert get_num_threads() == 1
    assert set(blas_counts().values()) == {2}
    assert set_num_threads(None) == 2  # the setting is restored too, not only the count


def test_context_manager_restores_after_an_exception():
    before = blas_counts()
    with pytest.raises(KeyError), threads(1):
        assert get_num_threads() == 1
        raise KeyError("boom")
    assert blas_counts() == before


def test_context_manager_none_leaves_threads_unchanged():
    set_num_threads(1)
    with threads(None):
        assert get_num_threads() == 1
    assert get_num_threads() == 1


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-1, ValueError), (2.5, TypeError),
                                        ("2", TypeError), (True, TypeError)])
def test_bad_n_is_a_sentence(bad, error):
    before = blas_counts()
    for call in (set_num_threads, lambda n: threads(n).__enter__()):
        with pytest.raises(error) as info:
            call(bad)
        message = str(info.value)
        assert message[0].isupper() and message.endswith(".")
        assert repr(bad) in message or str(bad) in message
    assert blas_counts() == before


def test_numpy_integers_are_accepted():
    np = pytest.importorskip("numpy")
    set_num_threads(np.int64(1))
    assert get_num_threads() == 1


@pytest.mark.parametrize("batch_size, width, expected", [
    (16, 784, 1),      # small MLP batches: 2 threads measured 2.8-4x slower
    (64, 784, 1),
    (1024, 784, 1),    # still loses once the other core is busy
    (64, 14112, 1),    # the CNN's second convolution (8 * 3 * 3 * 14 * 14 per sample)
    (16384, 784, 1),   # 12.8 million values: 2 threads still lost 1.3x when contended
    (4096, 4096, None),  # exactly LARGE_WORK
    (32768, 784, None),
])
def test_default_threads_follows_the_documented_policy(batch_size, width, expected):
    assert default_threads(batch_size, width) == expected


@pytest.mark.parametrize("args", [(0, 784), (64, 0), (64.0, 784), (64, "784")])
def test_default_threads_checks_its_arguments(args):
    with pytest.raises((TypeError, ValueError), match=r"\.$"):
        default_threads(*args)
