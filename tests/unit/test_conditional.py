"""The conditional GET rules: which tag a client holds, and how long it asked to wait for a change."""

from shared.web.conditional import holds, preferred_wait, weak_tag


def test_the_wait_preference_is_read_capped_and_anything_else_ignored() -> None:
    assert preferred_wait("wait=10", 15) == 10
    assert preferred_wait("respond-async, wait=20", 15) == 15  # never longer than the server allows
    assert preferred_wait("Wait = 3 ; x=1", 15) == 3
    for ignored in (None, "", "wait", "wait=-1", "wait=1.5", "wait=²", "handling=strict", "return=minimal"):
        assert preferred_wait(ignored, 15) == 0, ignored


def test_a_client_holds_an_answer_only_when_it_names_its_tag() -> None:
    tag = weak_tag({"audits": 20, "as_of": None})
    assert tag == weak_tag({"as_of": None, "audits": 20}) != weak_tag({"audits": 21, "as_of": None})
    assert holds(tag, tag) and holds(f'"other", {tag.removeprefix("W/")}', tag)
    assert not holds(None, tag) and not holds("*", tag) and not holds('W/"other"', tag)
