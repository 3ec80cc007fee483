// gdlab's page script: improves the server-rendered pages, which work without it.
// - the editor: CodeMirror (line numbers, Python colours, matching brackets) over the
//   form's textarea, which it keeps in sync and which stays, without this script; Tab
//   indents, Shift+Tab dedents, Esc then Tab leaves it; the draft is kept in this browser
// - submitting: the result appears in place, without a page load
// - a result's picture: replaced by charts of the curves (hover or arrow keys read a step)
// - the instructors' analytics: the four figures drawn from the numbers in the page
// Text that comes from a result is put in with textContent only, never as markup.
"use strict";

// the nonce this page's Content-Security-Policy allows <style> elements with (the editor's)
const styleNonce = (document.currentScript && document.currentScript.nonce) || "";

function element(tag, text, attributes) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
  return node;
}

// --- the editor ---------------------------------------------------------------------------

const INDENT = "    ";

// Colours of the code, each at least 4.5:1 on white (WCAG AA).
function codeColours(CM) {
  const t = CM.tags;
  return CM.HighlightStyle.define([
    { tag: [t.keyword, t.controlKeyword, t.definitionKeyword, t.moduleKeyword, t.operatorKeyword],
      color: "#8a1c9b" },
    { tag: [t.string, t.special(t.string)], color: "#a31515" },
    { tag: t.comment, color: "#4a525c", fontStyle: "italic" },
    { tag: [t.number, t.bool, t.null, t.atom], color: "#116329" },
    { tag: [t.definition(t.variableName), t.function(t.definition(t.variableName))], color: "#0b57d0" },
    { tag: [t.className, t.typeName, t.self], color: "#7a4b00" },
    { tag: t.invalid, color: "#a40e26" },
  ]);
}

// Tab: four spaces at the cursor (to the next multiple of four), or the selected lines
// indented; as the plain textarea did.
function tabCommand(CM) {
  return (view) => {
    const selection = view.state.selection;
    if (selection.ranges.some((range) => !range.empty)) return CM.indentMore(view);
    view.dispatch(view.state.changeByRange((range) => {
      const column = range.head - view.state.doc.lineAt(range.head).from;
      const spaces = INDENT.slice(column % INDENT.length);
      return { changes: { from: range.head, insert: spaces },
               range: CM.EditorSelection.cursor(range.head + spaces.length) };
    }), { scrollIntoView: true, userEvent: "input" });
    return true;
  };
}

// CodeMirror over `textarea` (which it hides and keeps in sync, so that the form sends
// the code as before); null where the editor's library did not load (the textarea stays).
function codeEditor(textarea, changed, submit) {
  const CM = window.GdlabEditor;
  if (!CM) return null;
  const hint = document.getElementById("code-hint");
  const view = new CM.EditorView({
    parent: textarea.parentElement,
    state: CM.EditorState.create({
      doc: textarea.value,
      extensions: [
        CM.lineNumbers(), CM.highlightActiveLineGutter(), CM.highlightSpecialChars(),
        CM.history(), CM.drawSelection(), CM.highlightActiveLine(),
        CM.indentUnit.of(INDENT), CM.EditorState.tabSize.of(4),
        CM.python(), CM.indentOnInput(), CM.bracketMatching(),
        CM.syntaxHighlighting(codeColours(CM)),
        CM.keymap.of([
          { key: "Tab", run: tabCommand(CM), shift: CM.indentLess },
          { key: "Mod-Enter", run: () => { submit(); return true; } },
          ...CM.defaultKeymap, ...CM.historyKeymap,
        ]),
        CM.EditorView.cspNonce.of(styleNonce),
        CM.EditorView.contentAttributes.of({
          "aria-labelledby": "code-label", "aria-describedby": hint.id, "id": "code-editor",
          "spellcheck": "false", "autocapitalize": "off", "autocorrect": "off" }),
        CM.EditorView.updateListener.of((update) => {
          if (!update.docChanged) return;
          textarea.value = update.state.doc.toString();
          changed();
        }),
        // Esc releases Tab (and Shift+Tab) to move the focus on, until another key is
        // pressed or the editor is left: CodeMirror's own release ends after 2 seconds,
        // too soon for some keyboard users; this one has no time limit, as before
        CM.EditorView.domEventHandlers({
          // text typed over a selection: replaced by the editor, not by the browser, whose
          // editing would carry the deleted code's colour over as a style attribute (which
          // the page's Content-Security-Policy refuses)
          beforeinput(event, editor) {
            if (event.inputType !== "insertText" || !event.data || event.isComposing ||
                editor.state.selection.ranges.every((range) => range.empty)) return false;
            event.preventDefault();
            editor.dispatch(editor.state.replaceSelection(event.data),
                            { userEvent: "input.type", scrollIntoView: true });
            return true;
          },
          keyup(event, editor) { if (event.key === "Escape") editor.setTabFocusMode(86400000); },
          blur(event, editor) { editor.setTabFocusMode(false); },
        }),
      ],
    }),
  });
  textarea.hidden = true;
  textarea.parentElement.insertBefore(view.dom, textarea);
  document.getElementById("code-label").addEventListener("click", () => view.focus());
  return {
    view,
    focus: () => view.focus(),
    replace(text) {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
    },
  };
}

// Without the editor's library: the plain textarea, where Tab indents and Esc releases the
// next Tab to move the focus on.
function plainTextareaKeys(code, changed) {
  code.addEventListener("input", changed);
  let released = false;
  code.addEventListener("keydown", (event) => {
    if (event.key === "Escape") { released = true; return; }
    if (event.key !== "Tab" || released || event.ctrlKey || event.altKey || event.metaKey) {
      released = false;
      return;
    }
    event.preventDefault();
    const start = code.selectionStart, end = code.selectionEnd;
    if (event.shiftKey) {  // dedent the current line
      const lineStart = code.value.lastIndexOf("\n", start - 1) + 1;
      const spaces = code.value.slice(lineStart, lineStart + 4).match(/^ */)[0].length;
      code.setRangeText("", lineStart, lineStart + spaces, "preserve");
      code.setSelectionRange(Math.max(lineStart, start - spaces), Math.max(lineStart, end - spaces));
    } else {
      code.setRangeText(INDENT, start, end, "end");
    }
    changed();
  });
  code.addEventListener("blur", () => { released = false; });
}

// --- a result's curves as charts --------------------------------------------------------

const COLOURS = { student: "#0b57d0", reference: "#4a525c", marker: "#a40e26", text: "#1b1f24",
                  grid: "#d0d7de" };
const CHART_HEIGHT = 260;

// A number as the readout and the axes show it (null: no finite value there).
function shown(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "none";
  const size = Math.abs(value);
  if (size !== 0 && (size >= 1e5 || size < 1e-3)) return value.toExponential(3);
  return String(Number(value.toPrecision(4)));
}

// A log axis's tick label: powers of ten only (the ticks between them stay unlabelled).
function decade(value) {
  const power = Math.log10(value);
  return Math.abs(power - Math.round(power)) < 1e-9 ? "1e" + Math.round(power) : "";
}

// A log axis's ticks: powers of ten, at most six of them (every second, third... decade
// when the curves span many).
function decades(min, max) {
  const low = Math.floor(Math.log10(min)), high = Math.ceil(Math.log10(max));
  if (!Number.isFinite(low) || !Number.isFinite(high)) return [];
  const stride = Math.max(1, Math.ceil((high - low) / 6));
  const ticks = [];
  for (let power = high; power >= low; power -= stride) ticks.unshift(10 ** power);
  return ticks.filter((tick) => tick >= min * (1 - 1e-9) && tick <= max * (1 + 1e-9));
}

function tickLabels(splits, log) {
  const decades = log ? splits.map(decade) : [];
  return decades.filter(Boolean).length >= 2 ? decades : splits.map(tick);
}

// A tick's label: as short as it can be (1e7, not 1.000e+7).
function tick(value) {
  const size = Math.abs(value);
  const short = Number(value.toPrecision(4));
  return size !== 0 && (size >= 1e5 || size < 1e-3) ? short.toExponential().replace("+", "") : String(short);
}

// The values a scale can draw: on a log scale, none that is zero or negative (a gap).
function drawable(values, log) {
  return values.map((v) => (v === null || !Number.isFinite(v) || (log && v <= 0) ? null : v));
}

function runTitle(run) {
  return "learning rate " + run.lr + ": " + run.verdict + ", " + Math.round(run.score) + " points";
}

function runNote(run) {
  if (run.student === null) return "Your code gave no trajectory for this run.";
  const step = run.first_difference;
  const drawn = step !== null && step < run.student.length && run.student[step] !== null;
  let note = step === null
    ? "Your curve follows the reference's at every step."
    : "Your curve first leaves the reference's at step " + step +
      (drawn ? " (circle)." : " (dotted line).");
  if (run.student_outcome === "diverged") {
    note += " Your run diverged after step " + (run.student.length - 1) + ".";
  }
  return note;
}

// An axis as every chart draws it: dark text, light grid.
function chartAxis(label) {
  return {
    label, stroke: COLOURS.text, grid: { stroke: COLOURS.grid, width: 1 },
    ticks: { stroke: COLOURS.grid }, font: "12px system-ui, sans-serif",
    labelFont: "13px system-ui, sans-serif",
  };
}

// One run's chart: uPlot in `holder`, `readout` saying the values at the cursor.
function drawRun(holder, readout, run, quantity, log, width) {
  const steps = Math.max(run.reference.length, run.student ? run.student.length : 0);
  const pad = (values) => Array.from({ length: steps }, (_, i) => (i < values.length ? values[i] : null));
  const x = Array.from({ length: steps }, (_, i) => i);
  const student = run.student ? pad(run.student) : [];
  const reference = pad(run.reference);
  const series = [{ label: "step" }];
  const data = [x];
  if (run.student) {
    series.push({ label: "yours", stroke: COLOURS.student, width: 2 });
    data.push(drawable(student, log));
  }
  series.push({ label: "reference", stroke: COLOURS.reference, width: 1.5, dash: [6, 4] });
  data.push(drawable(reference, log));

  const at = (i) => {
    const parts = ["step " + i];
    if (run.student) parts.push("yours " + shown(student[i]));
    parts.push("reference " + shown(reference[i]));
    return parts.join(", ");
  };
  const marker = (u) => {
    const step = run.first_difference;
    if (step === null || !run.student || step >= steps) return;
    const ctx = u.ctx, px = u.valToPos(step, "x", true);
    ctx.save();
    ctx.strokeStyle = COLOURS.marker;
    ctx.lineWidth = 1.5 * devicePixelRatio;
    ctx.setLineDash([3 * devicePixelRatio, 3 * devicePixelRatio]);
    ctx.beginPath();
    ctx.moveTo(px, u.bbox.top);
    ctx.lineTo(px, u.bbox.top + u.bbox.height);
    ctx.stroke();
    const value = data[1][step];
    if (value !== null) {
      ctx.setLineDash([]);
      ctx.lineWidth = 2.5 * devicePixelRatio;
      ctx.fillStyle = "#fff";
      ctx.beginPath();
      ctx.arc(px, u.valToPos(value, "y", true), 6 * devicePixelRatio, 0, 2 * Math.PI);
      ctx.fill();
      ctx.stroke();
    }
    ctx.restore();
  };
  const axis = chartAxis;
  return new window.uPlot({
    width, height: CHART_HEIGHT,
    scales: { x: { time: false }, y: log ? { distr: 3 } : { distr: 1 } },
    axes: [axis("step"), { ...axis(quantity + (log ? " (log)" : "")), size: 76,
                          ...(log ? { splits: (u, i, min, max) => decades(min, max),
                                      filter: (u, splits) => splits } : {}),
                          values: (u, splits) => tickLabels(splits, log) }],
    series, legend: { show: false },
    cursor: { drag: { x: false, y: false }, points: { size: 7 } },
    hooks: {
      draw: [marker],
      setCursor: [(u) => { if (u.cursor.idx !== null && u.cursor.idx !== undefined) readout.textContent = at(u.cursor.idx); }],
    },
  }, data, holder);
}

// Arrow keys move the cursor step by step (Shift: ten), Home and End to the ends.
function keyboardCursor(holder, chart) {
  holder.addEventListener("keydown", (event) => {
    const u = chart.current, last = u.data[0].length - 1;
    const now = u.cursor.idx === null || u.cursor.idx === undefined ? -1 : u.cursor.idx;
    const stride = event.shiftKey ? 10 : 1;
    const moves = { ArrowRight: now + stride, ArrowLeft: now - stride, Home: 0, End: last };
    if (!(event.key in moves)) return;
    event.preventDefault();
    const i = Math.min(last, Math.max(0, moves[event.key]));
    const value = u.data[1][i] ?? u.data[u.data.length - 1][i];
    const top = value === null || value === undefined ? u.over.clientHeight / 2 : u.valToPos(value, "y");
    u.setCursor({ left: u.valToPos(i, "x"), top });
  });
}

// The charts of `curves` in place of `figure`'s picture, with a log/linear switch.
function drawCurves(figure, curves) {
  const box = element("div", null, { class: "charts" });
  const toggle = element("button", "Log scale", {
    type: "button", class: "secondary scale-toggle", "aria-pressed": "true" });
  box.append(toggle);
  const charts = [];
  for (const curvesOfCase of curves.cases) {
    box.append(element("h3", "Case " + curvesOfCase.case + ": " + curvesOfCase.quantity));
    for (const run of curvesOfCase.runs) {
      const chartBox = element("div", null, { class: "chart" });
      const title = element("h4", runTitle(run));
      const holder = element("div", null, {
        class: "chart-area", tabindex: "0", role: "group",
        "aria-label": "Loss chart, " + runTitle(run) +
          ". Left and right arrow keys read the values step by step." });
      const readout = element("p", "Point at the chart, or use the arrow keys on it, to read the values at a step.",
                              { class: "readout", "aria-live": "polite" });
      const key = element("p", null, { class: "key", "aria-hidden": "true" });
      if (run.student) key.append(element("span", "yours", { class: "key-student" }));
      key.append(element("span", "reference", { class: "key-reference" }));
      if (run.first_difference !== null && run.student) key.append(element("span", "first difference", { class: "key-marker" }));
      chartBox.append(title, key, holder, readout, element("p", runNote(run), { class: "hint" }));
      box.append(chartBox);
      const chart = { holder, readout, run, quantity: curvesOfCase.quantity, current: null };
      keyboardCursor(holder, chart);
      charts.push(chart);
    }
  }
  const image = figure.querySelector("img");
  if (image) image.replaceWith(box); else figure.prepend(box);

  let log = true;
  const draw = () => {
    box.dataset.scale = log ? "log" : "linear";
    for (const chart of charts) {
      if (chart.current) chart.current.destroy();
      chart.holder.replaceChildren();
      chart.current = drawRun(chart.holder, chart.readout, chart.run, chart.quantity, log,
                              Math.max(200, chart.holder.clientWidth));
    }
  };
  toggle.addEventListener("click", () => {
    log = !log;
    toggle.setAttribute("aria-pressed", String(log));
    draw();
  });
  draw();
  let width = box.clientWidth;
  new ResizeObserver(() => {
    if (box.clientWidth === width) return;
    width = box.clientWidth;
    for (const chart of charts) chart.current.setSize({ width: Math.max(200, chart.holder.clientWidth), height: CHART_HEIGHT });
  }).observe(box);
}

// A figure's picture not yet in the page (put in should the charts fail).
const pictures = new WeakMap();

// Each result picture under `root` whose curves can be read becomes charts; where they
// cannot (no chart library, an error), the picture stays (or is put in).
async function enhancePlots(root) {
  if (!window.uPlot) return;
  for (const figure of root.querySelectorAll("figure.plot[data-curves]")) {
    if (figure.dataset.charted) continue;
    figure.dataset.charted = "yes";
    try {
      const response = await fetch(figure.dataset.curves, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error("no curves: " + response.status);
      drawCurves(figure, await response.json());
    } catch (error) {
      figure.dataset.charted = "no";
      const picture = pictures.get(figure);
      if (picture && !figure.querySelector("img, .charts")) figure.prepend(picture);
    }
  }
}

// --- the exercise page ------------------------------------------------------------------

(function () {
  const form = document.getElementById("submit-form");
  const code = document.getElementById("code");
  if (!form || !code) return;
  const exercise = form.dataset.exercise;
  const draftKey = "gdlab-draft-" + exercise;
  const starter = code.dataset.starter;
  const result = document.getElementById("result");
  const button = document.getElementById("submit-button");
  const hasServerError = document.getElementById("error") !== null;

  // what works only with this script: shown by it
  const hint = document.getElementById("code-hint");
  const reset = document.getElementById("reset-button");
  hint.hidden = false;
  code.setAttribute("aria-describedby", hint.id);
  reset.hidden = false;

  // the draft: restored unless the server just sent the code back with an error
  const saved = window.localStorage.getItem(draftKey);
  if (saved !== null && !hasServerError) code.value = saved;
  const keep = () => window.localStorage.setItem(draftKey, code.value);
  const editor = codeEditor(code, keep, () => form.requestSubmit());
  if (!editor) plainTextareaKeys(code, keep);
  reset.addEventListener("click", () => {
    if (code.value === starter || window.confirm("Replace your code with the starter?")) {
      if (editor) editor.replace(starter); else code.value = starter;
      window.localStorage.removeItem(draftKey);
      if (editor) editor.focus(); else code.focus();
    }
  });

  function showError(title, message) {
    const box = element("div", null, { class: "alert", role: "alert", id: "error" });
    box.append(element("strong", title + ":"), " " + message);
    result.replaceChildren(box);
  }

  function showResult(data) {
    const box = element("div", null, { class: "result-box" });
    const title = element("h2", null, { id: "result-title" });
    title.append("Score: ", element("span", data.score, { class: "score", id: "score" }), " / 100");
    box.append(title);
    if (data.diagnosis && data.diagnosis.length) {
      const section = element("section", null, { class: "diagnosis" });
      section.append(element("h3", "What went wrong"));
      const list = element("ul");
      for (const d of data.diagnosis) {
        const item = element("li");
        item.append(element("strong", d.id), ": " + d.message);
        list.append(item);
      }
      section.append(list);
      box.append(section);
    }
    box.append(element("p", data.feedback, { class: "feedback" }));
    if (data.sandbox && data.sandbox.verdict !== "ok") box.append(element("p", data.sandbox.detail, { class: "alert" }));
    const table = element("table", null, { class: "runs" });
    table.append(element("caption", "Visible runs (" + data.hidden.runs + " hidden runs: mean score " +
                         (data.hidden.score === null ? "-" : data.hidden.score) + ")"));
    const head = element("tr");
    for (const name of ["case", "learning rate", "verdict", "score", "outcome (reference)", "first difference"]) {
      head.append(element("th", name, { scope: "col" }));
    }
    const thead = element("thead");
    thead.append(head);
    table.append(thead);
    const body = element("tbody");
    for (const run of data.runs) {
      const row = element("tr", null, { class: "verdict-" + run.verdict });
      const where = run.first_disagreement ? "step " + run.first_disagreement.step : "-";
      for (const cell of [run.case, run.lr, run.verdict, run.score.toFixed(1),
                          (run.outcome || "-") + " (" + run.reference_outcome + ")", where]) {
        row.append(element("td", cell));
      }
      body.append(row);
    }
    table.append(body);
    box.append(table);
    const figure = element("figure", null, { class: "plot", "data-curves": data.page + "/curves.json" });
    const picture = element("img", null, {
      src: data.plot, width: "1400", height: "540", id: "plot",
      alt: "Loss curves of this submission (solid) over the reference's (dashed), score " + data.score + " of 100.",
    });
    // with the chart library, the picture (drawn by the server) is asked for only if the
    // charts cannot be drawn
    if (window.uPlot) pictures.set(figure, picture); else figure.append(picture);
    figure.append(element("figcaption", "Your curves (solid) over the reference's (dashed); a circle marks the first step where they part."));
    box.append(figure);
    enhancePlots(box);
    if (data.stdout) {
      box.append(element("h3", "Your code printed"));
      const printed = element("pre", null, { class: "code" });
      printed.append(element("code", data.stdout));
      box.append(printed);
    }
    const link = element("p");
    link.append(element("a", "This result on its own page", { href: data.page }));
    box.append(link);
    result.replaceChildren(box);
    title.setAttribute("tabindex", "-1");
    title.focus();
  }

  // a queued submission (a server with a job queue): its place, until it is graded
  async function follow(data) {
    while (data.status === "queued" || data.status === "grading") {
      const waiting = data.status === "queued"
        ? "Queued" + (data.position ? ": number " + data.position + " in line" : "") + "…"
        : "Grading…";
      result.replaceChildren(element("p", waiting, { class: "hint", role: "status" }));
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const response = await fetch(data.page, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error("lost track of the submission");
      data = await response.json();
    }
    return data;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    result.replaceChildren(element("p", "Grading…", { class: "hint" }));
    try {
      const response = await fetch(form.action, {
        method: "POST", body: new FormData(form), headers: { Accept: "application/json" },
      });
      let data = await response.json();
      if (response.status === 202) data = await follow(data);
      if (data.status === "graded") showResult(data);
      else if (response.status === 202) showError("Not graded", data.failure || "The submission " + data.status + ".");
      else showError(response.status === 503 ? "Busy" : "Not graded", data.message);
    } catch (error) {
      showError("Not sent", "The server could not be reached; your code is kept here. Try again in a moment.");
    } finally {
      button.disabled = false;
    }
  });
})();

// a submission page still waiting for its grade: look again every second and put the
// graded page's content in place (without the script, the page refreshes itself)
(function () {
  const pending = document.getElementById("pending");
  if (!pending) return;
  const main = document.getElementById("main");
  async function look() {
    try {
      const response = await fetch(pending.dataset.follow, { headers: { Accept: "application/json" } });
      const data = await response.json();
      if (data.status === "queued" || data.status === "grading") {
        pending.textContent = data.status === "queued"
          ? "Waiting for a grading worker" + (data.position ? ": number " + data.position + " in the queue" : "") +
            ". This page fills in the result when it is ready."
          : "Being graded now. This page fills in the result when it is ready.";
        setTimeout(look, 1000);
        return;
      }
      const page = await fetch(pending.dataset.follow, { headers: { Accept: "text/html" } });
      const fresh = new DOMParser().parseFromString(await page.text(), "text/html");
      main.replaceChildren(...fresh.getElementById("main").childNodes);
      enhancePlots(main);
    } catch (error) {
      setTimeout(look, 3000);
    }
  }
  setTimeout(look, 1000);
})();

// a result page's picture: charts of its curves
enhancePlots(document);

// --- the instructors' analytics page ----------------------------------------------------
// Its four figures, drawn here from the numbers the page carries (the same numbers as the
// server's pictures, which stay for a browser without this script, or a chart that fails).

const ANALYTICS_COLOURS = ["#0b57d0", "#a40e26", "#1e7d32", "#8a4b00", "#6a3fa0"];
const FULL_MARKS = "#1e7d32";

// "2026-12-03 14:00 UTC" (hours) or "2026-12-03" (days, weeks), from epoch seconds.
function utc(seconds, withHour) {
  const text = new Date(seconds * 1000).toISOString();
  return withHour ? text.slice(0, 10) + " " + text.slice(11, 16) + " UTC" : text.slice(0, 10);
}

// Labels of categories that fit `width` pixels: where they would overlap, every second
// (or third) one (`fit` "skip"), or each shortened with an ellipsis ("cut"); the readout
// names each in full.
function categoryLabels(labels, width, fit) {
  const space = width / Math.max(1, labels.length), needed = (text) => 7 * text.length + 8;
  const longest = Math.max(...labels.map(needed));
  let stride = 1;
  while (fit === "skip" && longest > space * stride && stride < 3) stride += 1;
  const chars = Math.max(3, Math.floor((space * stride - 8) / 7));
  return labels.map((text, i) => (i % stride ? "" : text.length <= chars ? text : text.slice(0, chars - 1) + "…"));
}

// A time axis's labels in UTC, on whole units only (the numbers are per hour or per day):
// "17:00" (with "12-03" where the day changes) for hours, "12-03" for days and weeks.
function timeLabels(splits, hours) {
  let day = null;
  return splits.map((seconds) => {
    if (seconds % (hours ? 3600 : 86400) !== 0) return "";
    const text = new Date(seconds * 1000).toISOString(), date = text.slice(5, 10);
    if (!hours) return date;
    const label = (date !== day ? date + " " : "") + text.slice(11, 16);
    day = date;
    return label;
  });
}

function plural(count, one, many) {
  return count + " " + (count === 1 ? one : many);
}

// Each chart as uPlot wants it: x values, series, how to label the x axis and what the
// readout says at a point. Null: nothing to draw (the picture says so in words).
function analyticsChart(name, data) {
  const bars = (values, colour, label) => ({ label, values, colour, bars: true });
  if (name === "scores") {
    const { labels, students } = data.scores;
    if (!students.some((n) => n > 0)) return null;
    const last = labels.length - 1;
    return {
      x: labels.map((_, i) => i), labels, fit: "skip", xLabel: "best score", yLabel: "students",
      series: [bars(students.map((n, i) => (i < last ? n : null)), ANALYTICS_COLOURS[0], "below 100"),
               bars(students.map((n, i) => (i === last ? n : null)), FULL_MARKS, "100")],
      say: (i) => "best score " + labels[i] + ": " + plural(students[i], "student", "students"),
    };
  }
  if (name === "cases") {
    const { cases, shares, hidden } = data.cases;
    if (!cases.length) return null;
    const names = cases.map((c, i) => c + (hidden[i] ? " (hidden)" : ""));
    return {
      x: cases.map((_, i) => i), labels: cases, fit: "cut", xLabel: "case", yLabel: "failed in (% of graded)",
      series: [bars(shares, ANALYTICS_COLOURS[1], "failed")],
      say: (i) => names[i] + ": failed in " + shares[i] + " % of the graded submissions",
    };
  }
  if (name === "hourly") {
    const { hours, submissions } = data.hourly;
    if (!hours.length) return null;
    let sum = 0;
    const total = submissions.map((n) => (sum += n));
    return {
      x: hours, time: true, xLabel: "hour (UTC)", yLabel: "submissions", y2Label: "in all",
      series: [bars(submissions, ANALYTICS_COLOURS[0], "per hour"),
               { label: "in all", values: total, colour: ANALYTICS_COLOURS[1], scale: "total" }],
      say: (i) => utc(hours[i], true) + ": " + plural(submissions[i], "submission", "submissions") +
        ", " + total[i] + " in all",
    };
  }
  const { periods, series, bucket } = data.diagnoses;
  if (!periods.length || !series.length) return null;
  return {
    x: periods, time: true, xLabel: bucket, yLabel: "% of students below 100",
    series: series.map((s, k) => ({ label: s.diagnosis, values: s.shares,
                                     colour: ANALYTICS_COLOURS[k % ANALYTICS_COLOURS.length] })),
    say: (i) => (bucket === "week" ? "week of " : "") + utc(periods[i], false) + ": " +
      series.map((s) => s.diagnosis + " " + s.shares[i] + " %").join(", "),
  };
}

// The uPlot of `chart` in `holder`, `width` pixels wide.
function drawAnalytics(holder, readout, chart, width) {
  const categories = chart.labels;
  const xAxis = { ...chartAxis(chart.xLabel) };
  if (categories) {
    xAxis.splits = () => chart.x;
    xAxis.values = (u) => categoryLabels(categories, u.bbox.width / devicePixelRatio, chart.fit);
  } else {
    xAxis.values = (u, splits) => timeLabels(splits, chart.xLabel === "hour (UTC)");
  }
  const axes = [xAxis, { ...chartAxis(chart.yLabel), size: 56 }];
  const scales = {
    x: categories ? { time: false, range: [-0.6, chart.x.length - 0.4] } : { time: chart.time },
    y: { range: (u, min, max) => [0, max > 0 ? max * 1.12 : 1] },
  };
  if (chart.y2Label) {
    scales.total = { range: (u, min, max) => [0, max > 0 ? max * 1.05 : 1] };
    axes.push({ ...chartAxis(chart.y2Label), scale: "total", side: 1, grid: { show: false }, size: 56 });
  }
  if (chart.time && chart.x.length === 1) {
    const only = chart.x[0], span = chart.xLabel === "hour (UTC)" ? 3600 : 86400;
    scales.x.range = [only - span, only + span];
  }
  const barPaths = window.uPlot.paths && window.uPlot.paths.bars
    ? window.uPlot.paths.bars({ size: [0.7, 64], align: 0 }) : undefined;
  const series = [{ label: chart.xLabel }, ...chart.series.map((s) => ({
    label: s.label, stroke: s.colour, scale: s.scale || "y",
    ...(s.bars ? { fill: s.colour, width: 0, paths: barPaths, points: { show: false } }
               : { width: 2, points: { show: true, size: 6, fill: s.colour } }),
  }))];
  const options = {
    width, height: CHART_HEIGHT, scales, axes, series, legend: { show: false },
    cursor: { drag: { x: false, y: false }, points: { size: 7 } },
    hooks: {
      setCursor: [(u) => { if (u.cursor.idx !== null && u.cursor.idx !== undefined) readout.textContent = chart.say(u.cursor.idx); }],
    },
  };
  if (chart.time) options.tzDate = (seconds) => window.uPlot.tzDate(new Date(seconds * 1000), "Etc/UTC");
  return new window.uPlot(options, [chart.x, ...chart.series.map((s) => s.values)], holder);
}

// The picture of `figure`, as the page would show it without this script.
function analyticsPicture(figure) {
  return element("img", null, { src: figure.dataset.picture, alt: figure.dataset.label,
                                width: "704", height: "319", id: "plot-" + figure.dataset.chart });
}

(function () {
  const source = document.getElementById("analytics-charts");
  if (!source) return;
  const data = JSON.parse(source.textContent);
  const drawn = [];
  for (const figure of document.querySelectorAll("figure.analytics-chart")) {
    const chart = window.uPlot ? analyticsChart(figure.dataset.chart, data) : null;
    if (!chart) { figure.prepend(analyticsPicture(figure)); continue; }
    const holder = element("div", null, {
      class: "chart-area", tabindex: "0", role: "group", id: "chart-" + figure.dataset.chart,
      "aria-label": figure.dataset.label + " Left and right arrow keys read the values one by one." });
    const readout = element("p", "Point at the chart, or use the arrow keys on it, to read a value.",
                            { class: "readout", "aria-live": "polite" });
    const key = element("p", null, { class: "key", "aria-hidden": "true" });
    if (chart.series.length > 1) {
      for (const s of chart.series) {
        const entry = element("span", s.label, { class: "key-series" });
        entry.style.setProperty("--key-colour", s.colour);
        key.append(entry);
      }
    }
    figure.prepend(key, holder, readout);
    const ref = { current: null };
    try {
      ref.current = drawAnalytics(holder, readout, chart, Math.max(200, holder.clientWidth));
    } catch (error) {
      key.remove(); holder.remove(); readout.remove();
      figure.prepend(analyticsPicture(figure));
      continue;
    }
    keyboardCursor(holder, ref);
    drawn.push({ holder, ref });
  }
  let width = document.body.clientWidth;
  new ResizeObserver(() => {
    if (document.body.clientWidth === width) return;
    width = document.body.clientWidth;
    for (const { holder, ref } of drawn) ref.current.setSize({ width: Math.max(200, holder.clientWidth), height: CHART_HEIGHT });
  }).observe(document.body);
})();
