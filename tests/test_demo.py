"""`qatysu demo`: a simulated community through the real flows, readable in its languages."""

from __future__ import annotations

from bot.demo import run_demo


async def test_the_demo_walks_step_1_and_writes_transcript_and_charts(tmp_path):
    out = await run_demo(str(tmp_path / "demo-out"), seed=7)
    transcript = (tmp_path / "demo-out" / "transcript.md").read_text(encoding="utf-8")
    for expected in ("Көктерек ауылы", "Добро пожаловать", "Welcome to",      # three languages
                     "Жапсырма (стикер) әдісі", "Басымдықтарды анықтау матрицасы", "Жүппен саралау",
                     "Жиынтық рейтинг", "Қауымдастық #", "Келесі кезеңге қатысатындар", "2-қадам"):
        assert expected in transcript, expected
    assert "Traceback" not in transcript and "Кешіріңіз" not in transcript  # nothing failed on the way
    charts = sorted((tmp_path / "demo-out").glob("chart-*.png"))
    assert len(charts) >= 5
    assert all(c.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and c.stat().st_size < 200_000 for c in charts)
    assert out.endswith("demo-out")
