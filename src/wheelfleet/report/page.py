"""The HTML page template: one self-contained file with inline CSS and no scripts.

The page is opened from a file share or a CI artifact, often offline, so nothing may be fetched:
system fonts only, no images by URL, and a Content-Security-Policy that forbids every fetch and
every script even if a value ever slipped through unescaped.  Jinja's autoescape is on, so every
``{{ }}`` below is HTML-escaped; there is no ``|safe`` anywhere on purpose.
"""

CSS = """
:root { --pass: #1a7f37; --fail: #cf222e; --skip: #8c959f; --dark: #24292f; --line: #d0d7de; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, "Segoe UI", "DejaVu Sans", sans-serif;
       color: #1f2328; background: #f6f8fa; }
main { max-width: 1240px; margin: 0 auto; padding: 0 20px 40px; }
header.verdict { color: #fff; padding: 18px 20px; }
header.verdict.passed { background: var(--pass); }
header.verdict.failed { background: var(--fail); }
header.verdict h1 { margin: 0; font-size: 28px; letter-spacing: .02em; }
header.verdict p { margin: 4px 0 0; opacity: .95; }
nav { background: #fff; border-bottom: 1px solid var(--line); padding: 8px 20px; }
nav a { margin-right: 16px; color: #0969da; text-decoration: none; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px;
          margin-top: 18px; padding: 12px 16px; }
h2 { font-size: 19px; margin: 4px 0 10px; }
h3 { font-size: 16px; margin: 14px 0 4px; }
table { border-collapse: collapse; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; }
.matrix td.cell { text-align: center; min-width: 52px; font-weight: 600; color: #fff; }
.matrix th.py { text-align: center; font-size: 13px; }
.matrix th.image { text-align: center; font-size: 13px; }
td.passed, .badge.passed { background: var(--pass); color: #fff; }
td.failed, .badge.failed { background: var(--fail); color: #fff; }
td.not-run, .badge.not-run { background: var(--skip); color: #fff; }
td.none { background: #f6f8fa; color: #8c959f; }
tr.unreachable th, tr.unreachable td { background: var(--dark); color: #f0f3f6; }
tr.unreachable .meta { color: #c9d1d9; }
.drifted { color: var(--fail); font-weight: 600; }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 13px;
         font-weight: 600; }
.badge.unreachable { background: var(--dark); color: #fff; }
.failure { border-left: 4px solid var(--fail); padding: 2px 12px; margin: 12px 0; }
.failure.unreachable { border-left-color: var(--dark); }
.meta { color: #59636e; font-size: 13px; }
.diagnosis { font-weight: 600; }
pre { background: #0d1117; color: #e6edf3; padding: 10px; border-radius: 6px; overflow-x: auto;
      font: 12px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; white-space: pre-wrap;
      word-break: break-all; max-height: 420px; }
ul.changes { margin: 4px 0; }
.muted { color: #59636e; }
.legend span { margin-right: 12px; }
svg rect.passed { fill: var(--pass); } svg rect.failed { fill: var(--fail); }
svg rect.not-run { fill: var(--skip); } svg rect.track { fill: #eaeef2; }
tr.current td { font-weight: 600; }
footer { margin-top: 18px; color: #59636e; font-size: 13px; }
"""

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
      content="default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>wheelfleet verify: {{ verdict | upper }} \u2013 {{ generated_at }}</title>
<style>@CSS@</style>
</head>
<body>
<header class="verdict {{ verdict }}">
  <h1>{{ "\u2713" if verdict == "passed" else "\u2717" }}
    Fleet verification {{ verdict | upper }}</h1>
  <p>{{ generated_at }} \u00b7 inventory {{ inventory }}
    \u00b7 {{ hosts | length }} host{{ "" if hosts | length == 1 else "s" }}
    \u00b7 {{ counts["passed"] }} passed, {{ counts["failed"] }} failed,
    {{ counts["not-run"] }} not run \u00b7 {{ unreachable }} unreachable
    \u00b7 drift on {{ drifted }} host{{ "" if drifted == 1 else "s" }}</p>
</header>
<nav>
  <a href="#matrix">Matrix</a>
  <a href="#failures">Failures ({{ failures | length + unreachable_hosts | length }})</a>
  <a href="#drift">Drift</a>
  <a href="#tools">Tools</a>
  <a href="#trend">Trend</a>
</nav>
<main>
<section id="matrix">
  <h2>Fleet matrix</h2>
  <p class="legend meta">
    <span class="badge passed">\u2713 passed</span>
    <span class="badge failed">\u2717 failed</span>
    <span class="badge not-run">\u2013 not run</span>
    <span class="badge unreachable">unreachable host</span>
  </p>
  <table class="matrix">
    <thead>
      <tr>
        <th rowspan="2">Host</th><th rowspan="2">Status</th>
        {% for image, pythons in columns %}
        <th class="image" colspan="{{ pythons | length }}">{{ image }}</th>
        {% endfor %}
      </tr>
      <tr>
        {% for image, pythons in columns %}{% for python in pythons %}
        <th class="py">{{ python }}</th>
        {% endfor %}{% endfor %}
      </tr>
    </thead>
    <tbody>
    {% for row in rows %}
      <tr class="{{ row.status }}">
        <th>{{ row.host }} <span class="meta">{{ row.platform }}</span></th>
        <td><span class="badge {{ row.status }}">{{ row.status }}</span></td>
        {% if row.status == "unreachable" %}
        <td colspan="{{ ncolumns or 1 }}">unreachable: {{ row.error }}</td>
        {% else %}
        {% for cell in row.cells %}
        <td class="cell {{ cell.status }}" title="{{ cell.title }}">{{ cell.text or "\u00b7" }}</td>
        {% endfor %}
        {% if not row.cells %}<td class="muted">no checks</td>{% endif %}
        {% endif %}
      </tr>
    {% endfor %}
    </tbody>
  </table>
</section>

<section id="failures">
  <h2>Failures</h2>
  {% if not failures and not unreachable_hosts %}
  <p class="muted">No failed checks and every host was reachable.</p>
  {% endif %}
  {% for host in unreachable_hosts %}
  <div class="failure unreachable">
    <h3>{{ host.host }} \u2013 unreachable</h3>
    <p class="diagnosis">{{ host.error }}</p>
  </div>
  {% endfor %}
  {% for f in failures %}
  <div class="failure">
    <h3>{{ f.host }} \u2013 {{ f.image }} {{ f.python }}
      <span class="meta">{{ f.arch }} \u00b7 {{ f.variant }}</span></h3>
    <p class="meta">step <b>{{ f.step }}</b>
      {% if f.exit_code is not none %}\u00b7 exit code {{ f.exit_code }}{% endif %}</p>
    <p class="diagnosis">{{ f.diagnosis }}</p>
    {% if f.tail %}
    <pre>{{ f.tail }}</pre>
    {% else %}
    <p class="muted">no output captured</p>
    {% endif %}
  </div>
  {% endfor %}
  {% if not_run %}
  <h3>Not run</h3>
  <table>
    <tr><th>Host</th><th>Check</th><th>Reason</th></tr>
    {% for host, name, reason in not_run %}
    <tr><td>{{ host }}</td><td>{{ name }}</td><td>{{ reason }}</td></tr>
    {% endfor %}
  </table>
  {% endif %}
</section>

<section id="drift">
  <h2>Drift</h2>
  <p class="meta">Changes pyinfra would make to bring a host back to its deploy.</p>
  <table>
    <tr><th>Host</th><th>Drift</th></tr>
    {% for host in hosts %}
    <tr><th>{{ host.host }}</th><td>
    {% if host.status == "unreachable" %}
      <span class="muted">not checked: host unreachable</span>
    {% elif host.drift.error is not none %}
      <span class="diagnosis">drift check failed: {{ host.drift.error }}</span>
    {% elif not host.drift.checked %}
      <span class="muted">not checked</span>
    {% elif not host.drift.changes %}
      \u2713 no drift
    {% else %}
      {% set n = host.drift.changes | length %}
      <span class="drifted">{{ n }} pending change{{ "" if n == 1 else "s" }}:</span>
      <ul class="changes">
        {% for change in host.drift.changes %}<li>{{ change }}</li>{% endfor %}
      </ul>
    {% endif %}
    </td></tr>
    {% endfor %}
  </table>
</section>

<section id="tools">
  <h2>Tool versions</h2>
  {% if tool_names %}
  <table>
    <tr><th>Host</th>{% for name in tool_names %}<th>{{ name }}</th>{% endfor %}</tr>
    {% for host in hosts %}
    <tr><th>{{ host.host }}</th>
      {% for name in tool_names %}<td>{{ host.tools.get(name) or "\u2013" }}</td>{% endfor %}
    </tr>
    {% endfor %}
  </table>
  {% else %}
  <p class="muted">No tool versions were recorded.</p>
  {% endif %}
</section>

<section id="trend">
  <h2>Trend</h2>
  {% set previous = nights | length - 1 %}
  <p class="meta">Checks per night, newest first
    ({{ previous }} previous night{{ "" if previous == 1 else "s" }} found).</p>
  <table>
    <tr><th>Night (UTC)</th><th>Verdict</th><th>Passed</th><th>Failed</th><th>Not run</th>
      <th>Unreachable hosts</th><th>Checks</th></tr>
    {% for night in nights %}
    <tr class="{{ 'current' if night.current else '' }}">
      <td>{{ night.generated_at }}{% if night.current %} (this run){% endif %}</td>
      <td><span class="badge {{ night.verdict }}">{{ night.verdict }}</span></td>
      <td>{{ night.passed }}</td><td>{{ night.failed }}</td><td>{{ night.not_run }}</td>
      <td>{{ night.unreachable }}</td>
      <td><svg width="{{ bar_width }}" height="14" role="img"
          aria-label="{{ night.passed }} passed, {{ night.failed }} failed,
            {{ night.not_run }} not run">
        <rect class="track" x="0" y="0" width="{{ bar_width }}" height="14"></rect>
        {% for status, x, width in night.bars %}
        <rect class="{{ status }}" x="{{ x }}" y="0" width="{{ width }}" height="14"></rect>
        {% endfor %}
      </svg></td>
    </tr>
    {% endfor %}
  </table>
</section>
<footer>Machine-readable: <a href="report.json">report.json</a> \u00b7
  <a href="junit.xml">junit.xml</a> \u00b7 schema {{ schema }}</footer>
</main>
</body>
</html>
"""

# The stylesheet is a trusted constant, spliced in as template text rather than passed as a
# value: autoescaping a value would turn its quotes into entities, which <style> does not decode.
TEMPLATE = TEMPLATE.replace("@CSS@", CSS)
