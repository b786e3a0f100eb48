"""`href`: payload URLs become safe markdown link targets, or nothing."""

from __future__ import annotations

import pytest

from formatters.render import href


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://github.com/o/r/pull/1", "https://github.com/o/r/pull/1"),
        ("http://ci.example/job/a%20b/", "http://ci.example/job/a%20b/"),
        (
            "https://ci.example/1/) [log in](http://evil.example/x",
            "https://ci.example/1/%29%20%5Blog%20in%5D%28http://evil.example/x",
        ),
        ("https://x.example/<script>", "https://x.example/%3Cscript%3E"),
        ("https://x.example/a\nb", "https://x.example/a%0Ab"),
        ("javascript:alert(1)", ""),
        ("data:text/html,hi", ""),
        ("ftp://x.example/", ""),
        ("", ""),
        (None, ""),
        (42, ""),
    ],
)
def test_href_keeps_one_http_link_target(value: object, expected: str) -> None:
    """Only http(s) survives; characters that would end the target are percent-encoded."""
    assert href(value) == expected
