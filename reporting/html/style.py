"""The inline stylesheet of report.html (kept apart so html.py stays about structure)."""

from __future__ import annotations

__all__ = ["CSS", "VERDICT_COLOURS", "OUTCOME_COLOURS"]

VERDICT_COLOURS = {"passed": "#1a7f37", "failed": "#cf222e", "invalid": "#9a6700"}
OUTCOME_COLOURS = {
    "correct": "#2da44e",
    "incorrect": "#fb8500",
    "unparseable": "#8250df",
    "http_error": "#cf222e",
    "timeout": "#bf3989",
    "connection_error": "#57606a",
    "unfinished": "#afb8c1",
}

CSS = """
:root { --ink:#24292f; --muted:#57606a; --line:#d8dee4; --soft:#f6f8fa; --card:#fff;
  --ok:#1a7f37; --bad:#cf222e; --warn:#9a6700; --accent:#0969da; }
* { box-sizing:border-box; }
body { margin:0; background:#eef1f4; color:var(--ink); line-height:1.45;
  font:14px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI",Helvetica,Arial,sans-serif; }
.top { background:#24292f; color:#fff; padding:10px 24px; font-size:13px;
  display:flex; justify-content:space-between; gap:12px; flex-wrap:wrap; }
.top b { letter-spacing:.02em; }
.top span { color:#c9d1d9; }
main { max-width:1120px; margin:0 auto; padding:20px 24px 40px; }
section { background:var(--card); border:1px solid var(--line); border-radius:10px;
  padding:18px 22px; margin:0 0 18px; }
h1 { margin:0; font-size:30px; letter-spacing:.04em; }
h2 { margin:0 0 12px; font-size:17px; }
h2 small, h3 small { color:var(--muted); font-weight:normal; font-size:13px; margin-left:6px; }
h3 { margin:16px 0 8px; font-size:14px; }
p.note { color:var(--muted); margin:6px 0 0; font-size:13px; }
.banner { color:#fff; border:none; padding:22px 26px; }
.banner.passed { background:linear-gradient(135deg,#1a7f37,#2da44e); }
.banner.failed { background:linear-gradient(135deg,#a40e26,#cf222e); }
.banner.invalid { background:linear-gradient(135deg,#7d4e00,#bf8700); }
.banner .sub { margin:4px 0 16px; font-size:15px; opacity:.95; }
.banner ul { margin:0 0 14px; padding-left:20px; }
.kpis { display:grid; grid-template-columns:repeat(auto-fit,minmax(140px,1fr)); gap:10px; }
.kpi { background:rgba(255,255,255,.16); border-radius:8px; padding:10px 12px; }
.kpi .v { font-size:22px; font-weight:600; font-variant-numeric:tabular-nums; }
.kpi .k { font-size:12px; opacity:.9; text-transform:uppercase; letter-spacing:.04em; }
table { border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums; }
th, td { padding:6px 10px; border-bottom:1px solid var(--line); text-align:left;
  vertical-align:top; }
th { background:var(--soft); font-weight:600; font-size:12px; color:var(--muted);
  text-transform:uppercase; letter-spacing:.03em; }
td.num, th.num { text-align:right; } td.num { white-space:nowrap; }
tr:last-child td { border-bottom:none; }
.pill { display:inline-block; padding:1px 9px; border-radius:999px; font-size:12px;
  font-weight:600; color:#fff; white-space:nowrap; }
.pill.ok { background:var(--ok); } .pill.bad { background:var(--bad); }
.pill.na { background:var(--muted); }
code { font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;
  background:var(--soft); padding:1px 5px; border-radius:4px; }
.barcell { display:flex; align-items:center; gap:8px; justify-content:flex-end; }
.meter { width:90px; height:8px; background:var(--soft); border-radius:4px; overflow:hidden;
  border:1px solid var(--line); flex:none; }
.meter i { display:block; height:100%; background:var(--accent); }
.meter.good i { background:#2da44e; } .meter.mid i { background:#d4a72c; }
.meter.poor i { background:#cf222e; }
.bar { width:100%; height:26px; border-radius:6px; display:block; }
.legend { display:flex; flex-wrap:wrap; gap:6px 18px; margin:10px 0 12px; font-size:13px; }
.legend i { display:inline-block; width:11px; height:11px; border-radius:3px;
  margin-right:6px; vertical-align:-1px; }
.chart { width:100%; height:auto; display:block; margin-top:12px; }
.grid2 { display:grid; grid-template-columns:1fr 1fr; gap:18px; }
@media (max-width:800px) { .grid2 { grid-template-columns:1fr; } }
@media (max-width:860px) { .meter { width:56px; } th, td { padding:6px 7px; } }
/* Scroll cue: shadows at an edge with more content behind it. The "local" white covers move
   with the content and hide a shadow once that edge is reached (no script needed). */
.scroll { overflow-x:auto; background:
  linear-gradient(to right, var(--card) 50%, rgba(255,255,255,0)) left / 40px 100% no-repeat local,
  linear-gradient(to left, var(--card) 50%, rgba(255,255,255,0)) right / 40px 100% no-repeat local,
  radial-gradient(farthest-side at 0 50%, rgba(0,0,0,.3), rgba(0,0,0,0)) left / 16px 100%
    no-repeat scroll,
  radial-gradient(farthest-side at 100% 50%, rgba(0,0,0,.3), rgba(0,0,0,0)) right / 16px 100%
    no-repeat scroll; }
/* Labels are data: never change their case ("Refund" and "refund" are two labels). */
/* Separate borders: collapsed ones stay behind when the sticky label column scrolls. */
table.heat { width:auto; border-collapse:separate; border-spacing:0; }
table.heat td, table.heat th { text-align:center; border:0 solid #fff; border-width:0 1px 1px 0;
  padding:5px 6px; text-transform:none; letter-spacing:normal; }
table.heat th { background:transparent; color:var(--ink); font-weight:600; }
table.heat th.col { vertical-align:bottom; padding:6px 2px; }
table.heat th.col span { writing-mode:vertical-rl; transform:rotate(180deg); white-space:nowrap;
  display:inline-block; max-height:190px; }
table.heat th.corner { text-align:left; vertical-align:bottom; color:var(--muted);
  font-weight:normal; white-space:nowrap; position:sticky; left:0; z-index:2;
  background:var(--card); }
table.heat th.rowh { text-align:right; white-space:nowrap; position:sticky; left:0; z-index:1;
  background:var(--soft); }
table.heat td { min-width:46px; }
table.heat td.zero::after { content:"·"; color:#afb8c1; }
table.heat td small { display:block; font-size:11px; opacity:.85; }
/* Samples: the input is what a reader studies, so it keeps at least 16em at any width. */
table.samples td, table.samples th { padding:6px 8px; }
table.samples th.num { white-space:normal; }
table.samples .sid { display:block; margin-bottom:3px;
  font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; }
.input { white-space:pre-wrap; overflow-wrap:anywhere; min-width:16em; }
.slices { display:flex; flex-wrap:wrap; gap:3px 6px; margin-top:5px; }
.slice { font-size:12px; color:var(--muted); background:var(--soft); border:1px solid var(--line);
  border-radius:4px; padding:0 5px; }
.err { display:block; color:var(--bad); overflow-wrap:anywhere; min-width:8em; max-width:22em; }
dl.details { display:grid; grid-template-columns:max-content 1fr; gap:6px 18px; margin:0; }
dl.details dt { color:var(--muted); } dl.details dd { margin:0; overflow-wrap:anywhere; }
footer { text-align:center; color:var(--muted); font-size:12px; padding:0 0 30px; }
"""
