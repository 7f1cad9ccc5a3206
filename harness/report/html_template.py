# ruff: noqa: E501  (template lines follow the HTML, not Python, and a few are long)
"""The HTML report's template and style sheet.

Kept as Python strings rather than package data files so the template travels with the module in any
install (no package-data configuration to forget). jinja2 renders it with autoescape on: every value is
escaped unless it is `Markup` (only the SVG that matplotlib wrote is).
"""

from __future__ import annotations

STYLE = """
:root { --fg:#1f2328; --muted:#59636e; --line:#d0d7de; --bg:#ffffff; --soft:#f6f8fa;
  --passed:#1a7f37; --partial:#9a6700; --failed:#d1242f; --error:#8250df; --unknown:#0969da;
  --skipped:#59636e; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1100px; padding: 24px; color: var(--fg); background: var(--bg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 8px;
  border-bottom: 1px solid var(--line); padding-bottom: 4px; } h3 { font-size: 15px; margin: 18px 0 6px; }
nav { margin: 8px 0 0; color: var(--muted); } nav a { color: var(--unknown); margin-right: 12px; }
.total { font-size: 28px; font-weight: 600; } .muted { color: var(--muted); }
.banner { padding: 10px 14px; border-radius: 6px; margin: 12px 0; border: 1px solid var(--error);
  background: #fbefff; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--soft); font-weight: 600; } td.num, th.num { text-align: right;
  font-variant-numeric: tabular-nums; white-space: nowrap; }
table.meta th { width: 180px; background: none; color: var(--muted); font-weight: normal; }
.badge { display: inline-block; min-width: 64px; padding: 1px 8px; border-radius: 10px; color: #fff;
  font-size: 12px; text-align: center; font-weight: 600; }
.s-passed { background: var(--passed); } .s-partial { background: var(--partial); }
.s-failed { background: var(--failed); } .s-error { background: var(--error); }
.s-unknown { background: var(--unknown); } .s-skipped { background: var(--skipped); }
.s-pending { background: var(--skipped); }
.bar { background: var(--soft); border: 1px solid var(--line); height: 10px; width: 160px;
  display: inline-block; vertical-align: middle; } .bar > span { display: block; height: 100%;
  background: var(--passed); }
.undecided { color: var(--error); font-weight: 600; }
.level { margin: .3em 0; }
figure { margin: 10px 0 18px; break-inside: avoid; } figure svg { width: 100%; max-width: 860px; height: auto; display: block; }
figcaption { color: var(--muted); font-size: 12px; }
pre { background: var(--soft); border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px;
  overflow-x: auto; white-space: pre-wrap; word-break: break-word; font: 12px/1.4 ui-monospace,
  SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; max-height: 480px; overflow-y: auto; }
details { border: 1px solid var(--line); border-radius: 6px; padding: 6px 10px; margin: 6px 0; }
summary { cursor: pointer; } details[open] > summary { margin-bottom: 6px; }
.label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; } nav { display: none; }
  h2 { break-after: avoid; } tr, figure, details { break-inside: avoid; }
  pre { max-height: none; overflow: visible; } a { color: inherit; text-decoration: none; }
  .badge, .bar > span { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
}
"""

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy"
      content="default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'">
<meta name="referrer" content="no-referrer">
<title>{{ r.exercise }} — {{ mode_title }} — {{ total_text }}</title>
<style>{{ style }}</style>
</head>
<body>
<header>
  <h1>{{ r.exercise }} — {{ mode_title }}</h1>
  <div><span class="total">{{ total_text }}</span>
  {% if r.undecided_points %}<span class="undecided">
    {{ fmt(r.undecided_points) }} points undecided: not counted either way</span>{% endif %}
  {% if r.pending_points %}<span class="muted">&nbsp;({{ fmt(r.pending_points) }} of them await a reviewer:
    <code>harness review</code>)</span>{% endif %}</div>
  {% if r.seniority %}<div class="level">level: <strong>{{ r.seniority.level | v }}</strong>
    <span class="muted">({{ r.seniority.reason | v }}{% for t in r.seniority.thresholds %}; {{ t.level | v }}
    at {{ fmt(t.at_least) }}{% endfor %})</span></div>{% endif %}
  {% if r.gates_failed %}<div class="banner"><strong>Gate failed:</strong> {{ r.gates_failed | join(", ") | v }}
    (required criteria){% if r.uncapped_total is not none %}; the total is capped at {{ fmt(r.gate_cap) }}
    (uncapped {{ fmt(r.uncapped_total) }}){% endif %}.</div>{% endif %}
  {% if r.repeated_runs > 1 %}<div class="muted">The median of {{ r.repeated_runs }} runs with one seed;
    flaky criteria: {{ r.flaky_criteria | join(", ") or "none" }}.</div>{% endif %}
  {% if not r.complete %}<div class="banner"><strong>Incomplete grade.</strong> A harness or
    infrastructure error left some criteria undecided: rerun it; do not trust this total.</div>{% endif %}
  <nav><a href="#scorecard">scorecard</a><a href="#plots">plots</a><a href="#evidence">evidence</a>
    <a href="#logs">logs</a><a href="#environment">environment</a></nav>
</header>

<section id="submission">
<table class="meta">
  <tr><th>submission</th><td>{{ r.submission.source | v }} ({{ r.submission.kind }})</td></tr>
  {% if r.submission.revision %}<tr><th>revision</th><td>{{ r.submission.revision | v }}</td></tr>{% endif %}
  {% if r.submission.image_digest %}<tr><th>image digest</th><td><code>{{ r.submission.image_digest | v }}</code></td></tr>{% endif %}
  {% if r.submission.build %}<tr><th>build</th><td>{{ r.submission.build.status }}
    in {{ fmt(r.submission.build.duration_s) }} s</td></tr>{% endif %}
  <tr><th>seed</th><td><code>{{ r.seed }}</code> (<code>--seed {{ r.seed }}</code> replays the same inputs)</td></tr>
  <tr><th>graded</th><td>{{ r.started_at | v }} → {{ r.finished_at | v }}</td></tr>
  <tr><th>harness</th><td>{{ r.environment.harness_version | v }}</td></tr>
  {% for name, value in extra_result %}<tr><th>{{ name }}</th><td>{% if "\n" in value %}<pre>{{ value | v }}</pre>
    {%- else %}{{ value | v }}{% endif %}</td></tr>{% endfor %}
</table>
</section>

{% if r.problems %}<section id="problems"><h2>Harness errors</h2>
<p class="muted">Not the candidate's doing, never scored against them.</p>
<ul>{% for p in r.problems %}<li><code>{{ p | v }}</code></li>{% endfor %}</ul></section>{% endif %}

<section id="scorecard">
<h2>Scorecard</h2>
{% if r.skills %}<h3>By skill</h3>
<table><tr><th>skill</th><th></th><th class="num">points</th></tr>
{% for s in r.skills %}<tr><td>{{ s.title | v }}</td>
  <td><span class="bar"><span style="width: {{ pct(s.points, s.max_points) }}%"></span></span></td>
  <td class="num">{{ fmt(s.points) }} / {{ fmt(s.max_points) }}</td></tr>{% endfor %}
</table>{% endif %}
<h3>By criterion</h3>
<table><tr><th>status</th><th>criterion</th><th>skill</th><th>visibility</th><th class="num">points</th>
  <th class="num">scenarios passed</th><th>summary</th></tr>
{% for c in r.criteria %}<tr>
  <td><span class="badge s-{{ c.status }}">{{ c.status }}</span></td>
  <td><a href="#c-{{ loop.index }}">{{ c.title | v }}</a></td><td>{{ c.skill | v }}</td><td>{{ c.visibility }}</td>
  <td class="num">{% if c.status in ("error", "unknown", "pending") %}<span class="undecided">{{ c.status }}</span>
    of {{ fmt(c.max_points) }}{% else %}{{ fmt(c.points) }} / {{ fmt(c.max_points) }}{% endif %}</td>
  <td class="num">{{ c.passed }} / {{ c.passed + c.failed }}{% if c.errors %}, {{ c.errors }} error{% endif %}
    {% if c.skipped %}, {{ c.skipped }} skipped{% endif %}</td>
  <td>{{ c.summary | v }}</td></tr>{% endfor %}
</table>
</section>

{% if r.quality %}{% set q = r.quality %}<section id="quality">
<h2>Code quality</h2>
<p class="muted">Gathered in the build sandbox (no network){% if q.toolchain %} with {{ q.toolchain | v }}{% endif %};
  a fact that could not be established is unknown, never a failure.</p>
<table class="meta">
  <tr><th>clippy warnings</th><td>{{ known(q.clippy_warnings) }}</td></tr>
  {% for w in q.clippy_top %}<tr><th></th><td><code>{{ w.lint | v }}</code> {{ w.message | v }}
    <span class="muted">{{ w.location | v }}</span></td></tr>{% endfor %}
  <tr><th>own tests</th><td>{{ known(q.tests_passed) }} passed, {{ known(q.tests_failed) }} failed,
    {{ known(q.tests_ignored) }} ignored</td></tr>
  <tr><th>rustfmt</th><td>{% if q.fmt_clean is none %}unknown{% elif q.fmt_clean %}clean{% else %}would
    change {{ q.fmt_files | join(", ") | v }}{% endif %}</td></tr>
  <tr><th>unsafe</th><td>{{ known(q.unsafe_blocks) }} blocks, {{ known(q.unsafe_items) }} items</td></tr>
  <tr><th>size</th><td>{{ known(q.lines_of_code) }} lines of code, {{ known(q.comment_lines) }} of comments,
    {{ known(q.rust_files) }} files</td></tr>
  <tr><th>notes</th><td>README: {{ (q.readme or "none") | v }}; design notes:
    {{ ((q.design_notes | join(", ")) or "none") | v }}</td></tr>
  {% for why in q.unknown %}<tr><th>unknown</th><td>{{ why | v }}</td></tr>{% endfor %}
</table>
</section>{% endif %}

<section id="plots">
<h2>Plots</h2>
{% for item in plots %}<figure>
  {{ item.svg }}
  <figcaption>{{ item.criterion | v }} · {{ item.scenario | v }} ({{ item.status }}){% if item.windows %};
    shaded: {{ item.windows | v }}{% endif %}</figcaption>
</figure>{% else %}<p class="muted">No scenario recorded a chart in this run.</p>{% endfor %}
</section>

<section id="evidence">
<h2>Evidence by criterion</h2>
{% for c in r.criteria %}<h3 id="c-{{ loop.index }}"><span class="badge s-{{ c.status }}">{{ c.status }}</span>
  {{ c.title | v }} <span class="muted">({{ c.id | v }})</span></h3>
{% if c.level %}<p>level reached: <strong>{{ c.level | v }}</strong>{% for l in c.levels if l.id == c.level %}:
  {{ l.description | v }}{% endfor %}</p>{% endif %}
{% if c.review %}<div class="label">review by {{ c.review.reviewer | v }}, {{ c.review.at | v }}</div>
  <pre>{{ c.review.note | v }}</pre>{% elif c.kind == "manual" %}<p class="muted">Awaiting a reviewer:
  <code>harness review</code>. {{ c.description | v }}</p>{% endif %}
{% if c.checks %}<div class="label">checks</div><ul>{% for k in c.checks %}<li><span class="badge s-{{ k.status }}">{{ k.status }}</span> {{ k.describe() | v }}</li>{% endfor %}</ul>{% endif %}
{% for name, value in extra_criterion(c) %}<div class="label">{{ name }}</div>
{% if "\n" in value %}<pre>{{ value | v }}</pre>{% else %}<p>{{ value | v }}</p>{% endif %}{% endfor %}
{% for s in c.scenarios %}<details{% if s.status in ("failed", "error") %} open{% endif %}>
  <summary><span class="badge s-{{ s.status }}">{{ s.status }}</span> {{ s.name | v }}
    <span class="muted">{{ fmt(s.duration_s) }} s</span></summary>
  {% if s.message %}<div class="label">why</div><pre>{{ s.message | v }}</pre>{% endif %}
  {% if s.reproduce %}<div class="label">reproduce</div><pre>{{ s.reproduce | v }}</pre>{% endif %}
  {% if s.evidence %}<div class="label">what happened</div><pre>{{ s.evidence | v }}</pre>{% endif %}
  {% if s.details %}<div class="label">details</div><pre>{{ s.details | v }}</pre>{% endif %}
  {% if not (s.message or s.reproduce or s.evidence or s.details) %}<p class="muted">No evidence recorded.</p>{% endif %}
  <div class="muted"><code>{{ s.nodeid | v }}</code></div>
</details>{% endfor %}
{% endfor %}
</section>

<section id="logs">
<h2>Candidate logs</h2>
{% for log in logs %}<h3>{{ log.title }}</h3><pre>{{ log.text | v }}</pre>{% else %}
<p class="muted">No build log in this result (a prebuilt image or an external service).</p>{% endfor %}
</section>

<section id="environment">
<h2>Environment</h2>
<table class="meta">
  <tr><th>harness</th><td>{{ r.environment.harness_version | v }}</td></tr>
  <tr><th>docker</th><td>{{ (r.environment.docker_version or "unknown") | v }}</td></tr>
  <tr><th>platform</th><td>{{ r.environment.platform | v }}, Python {{ r.environment.python | v }},
    {{ r.environment.cpu_count }} CPUs</td></tr>
  <tr><th>build limits</th><td>{{ limits(r.environment.build_limits) }}</td></tr>
  <tr><th>run limits</th><td>{{ limits(r.environment.run_limits) }}</td></tr>
</table>
</section>
<footer>harness {{ r.environment.harness_version | v }} · results schema {{ r.schema_version }} ·
  candidate text is shown escaped, control characters as \\xNN</footer>
</body>
</html>
"""
