from eoesim.serving.countdown import after_all


def test_the_callback_fires_once_on_the_last_of_its_calls_with_its_arguments():
    seen = []
    done = after_all(3, seen.append, "ready")
    done()
    done()
    assert seen == []
    done()
    assert seen == ["ready"]
