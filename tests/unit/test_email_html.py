"""Email HTML sanitizing and the frame's policy (the browser test proves the whole in Chromium)."""

from __future__ import annotations

from console.routes.email_html import policy, sanitize


def test_scripts_handlers_and_javascript_urls_are_removed_and_layout_stays() -> None:
    dirty = (
        '<table style="width:100%;color:red;position:fixed"><tr><td align="center">Olá</td></tr></table>'
        "<script>alert(1)</script><img src=x onerror=alert(2)>"
        '<a href="javascript:alert(3)">x</a><a href="https://example.pt/fatura">fatura</a>'
        '<iframe src="https://evil.example"></iframe><form action="https://evil.example"><input></form>'
        "<svg><script>alert(4)</script></svg><style>body{background:url(https://t.example/p)}</style>"
    )
    clean = sanitize(dirty)
    for gone in ("<script", "onerror", "javascript:", "<iframe", "<form", "<svg", "<style", "position"):
        assert gone not in clean, gone
    assert 'style="width:100%;color:red"' in clean
    assert 'align="center"' in clean
    assert 'href="https://example.pt/fatura"' in clean
    assert 'rel="noopener noreferrer nofollow"' in clean


def test_policy_sandboxes_and_blocks_remote_images_unless_asked() -> None:
    blocked = policy(images=False)
    assert blocked.startswith("sandbox;")
    assert "script-src 'none'" in blocked
    assert "https:" not in blocked
    assert "img-src data: cid: https: http:" in policy(images=True)
