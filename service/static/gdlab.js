// gdlab's page script: improves the server-rendered pages, which work without it.
// - the editor: Tab indents (Esc, then Tab, leaves it), the draft is kept in this browser
// - submitting: the result appears in place, without a page load
"use strict";

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
  code.addEventListener("input", () => window.localStorage.setItem(draftKey, code.value));
  reset.addEventListener("click", () => {
    if (code.value === starter || window.confirm("Replace your code with the starter?")) {
      code.value = starter;
      window.localStorage.removeItem(draftKey);
      code.focus();
    }
  });

  // Tab indents; Esc releases the next Tab to move the focus on (keyboard users)
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
      code.setRangeText("    ", start, end, "end");
    }
    window.localStorage.setItem(draftKey, code.value);
  });
  code.addEventListener("blur", () => { released = false; });

  function element(tag, text, attributes) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    return node;
  }

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
    const figure = element("figure");
    figure.append(element("img", null, {
      src: data.plot, width: "1400", height: "540", id: "plot",
      alt: "Loss curves of this submission (solid) over the reference's (dashed), score " + data.score + " of 100.",
    }));
    figure.append(element("figcaption", "Your curves (solid) over the reference's (dashed); a circle marks the first step where they part."));
    box.append(figure);
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
    } catch (error) {
      setTimeout(look, 3000);
    }
  }
  setTimeout(look, 1000);
})();
