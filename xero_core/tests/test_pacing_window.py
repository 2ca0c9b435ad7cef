"""A spent minute budget pauses until the oldest of the last L calls leaves the window."""

from datetime import datetime, timedelta

from casemgr_xero_core.pacing import CallWindow, RateInfo, call_window

T0 = datetime(2026, 12, 6, 3, 0, 0)


def _answers(window, limit, start, step):
    """``limit`` answers ``step`` seconds apart on a fresh budget; the pause after the last."""
    when = None
    for k in range(limit):
        when = window.not_before(
            start + timedelta(seconds=k * step), RateInfo(min_remaining=limit - 1 - k)
        )
    return when


def test_spent_budget_pauses_until_the_oldest_call_leaves():
    window = CallWindow()
    # 60 answers one second apart: the budget is spent at 59 s; the first call leaves at 60 s.
    assert _answers(window, 60, T0, 1.0) == T0 + timedelta(seconds=60)
    # Budget left: no pause.
    assert CallWindow().not_before(T0, RateInfo(min_remaining=5)) is None


def test_sliding_window_uses_the_whole_minute():
    """Each later call frees when the call 60 before it leaves: 60 calls in any minute."""
    window = CallWindow()
    _answers(window, 60, T0, 0.5)  # burst in 29.5 s, first call frees at 60 s
    now = T0 + timedelta(seconds=60)
    # The call at 60 s spends the budget again: the next frees 60 s after the second call.
    assert window.not_before(now, RateInfo(min_remaining=0)) == T0 + timedelta(seconds=60.5)


def test_limit_learned_from_the_answers():
    window = CallWindow()
    assert _answers(window, 10, T0, 2.0) == T0 + timedelta(seconds=60)


def test_unknown_calls_wait_a_whole_window():
    now = T0 + timedelta(seconds=30)
    # Fewer answers than the budget: others spent it, nothing known of them.
    window = CallWindow()
    window.not_before(T0, RateInfo(min_remaining=59))
    assert window.not_before(now, RateInfo(min_remaining=0)) == now + timedelta(seconds=60)
    # Remaining fell by more than one between two answers: another caller shares the budget.
    window = CallWindow()
    for k in range(60):
        left = max(0, 59 - k - (k >= 30))  # one call of someone else's between 29 and 30
        window.not_before(T0 + timedelta(seconds=k * 0.1), RateInfo(min_remaining=left))
    later = T0 + timedelta(seconds=10)
    assert window.not_before(later, RateInfo(min_remaining=0)) == later + timedelta(seconds=60)


def test_answers_older_than_a_minute_do_not_count():
    """This process's last L answers span more than a minute: another process (or run) spent
    part of the budget since, so the oldest of ours frees nothing."""
    window = CallWindow()
    _answers(window, 60, T0, 0.1)
    later = T0 + timedelta(seconds=100)
    for k in range(5):
        when = window.not_before(later + timedelta(seconds=k), RateInfo(min_remaining=4 - k))
    assert when == later + timedelta(seconds=4 + 60)


def test_retry_after_and_day_still_win():
    window = CallWindow()
    _answers(window, 60, T0, 0.1)
    now = T0 + timedelta(seconds=6)
    when = window.not_before(now, RateInfo(min_remaining=0, retry_after=90.0, problem="minute"))
    assert when == now + timedelta(seconds=90)
    assert window.not_before(now, RateInfo(min_remaining=3, day_remaining=0)) >= now + timedelta(
        minutes=30
    )


def test_one_window_per_key():
    assert call_window(("db", 1)) is call_window(("db", 1))
    assert call_window(("db", 1)) is not call_window(("db", 2))
