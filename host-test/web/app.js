// The page: takes a file (chosen, dropped or pasted), hands it to the worker
// that runs the node's component, and shows what the component reports.
// No rule is checked here: verdicts, counts and problems are the
// component's `validate` result, shown as it gives them, and the file to
// download is the component's `stage` result, saved as it gives it.

const $ = (id) => document.getElementById(id);
const worker = new Worker("worker.js", { type: "module" });

let busy = false;
let current = null; // { name, format, message }

const FORMATS = { csv: "csv", json: "json", ndjson: "json", jsonl: "json" };

/** The format chosen, or the file name's, or (pasted data) a guess from
 * its first character: `[` or `{` is JSON, anything else CSV. */
function formatOf(name, text) {
  const chosen = $("format").value;
  if (chosen !== "auto") return chosen;
  if (name) {
    const ext = name.split(".").pop().toLowerCase();
    if (FORMATS[ext]) return FORMATS[ext];
  }
  if (text !== undefined) return /^\s*[[{]/.test(text) ? "json" : "csv";
  return null;
}

function start(message, name) {
  if (busy) return;
  if (!message.format) {
    showHostError(`Cannot tell the format of ${name}: choose CSV or JSON.`);
    return;
  }
  busy = true;
  current = { name, format: message.format, message };
  $("check").disabled = true;
  $("status").hidden = false;
  $("status").dataset.state = "running";
  $("status-text").textContent = `Checking ${name} as ${message.format.toUpperCase()}…`;
  $("progress").removeAttribute("value");
  $("progress-text").textContent = "";
  $("result").hidden = true;
  document.body.dataset.state = "checking";
  worker.postMessage(message);
}

function checkFile(file) {
  start({ file, format: formatOf(file.name) }, file.name);
}

$("file").addEventListener("change", () => {
  const file = $("file").files[0];
  if (file) checkFile(file);
});

const drop = $("drop");
for (const type of ["dragenter", "dragover"]) {
  drop.addEventListener(type, (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
}
for (const type of ["dragleave", "drop"]) {
  drop.addEventListener(type, () => drop.classList.remove("over"));
}
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  const file = e.dataTransfer.files[0];
  if (file) checkFile(file);
});

$("check").addEventListener("click", () => {
  const text = $("paste").value;
  if (text.trim() === "") return;
  start({ text, format: formatOf(null, text) }, "the pasted data");
});

const bytes = (n) => {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB"];
  let v = n;
  let u = -1;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
};
const count = (n) => n.toLocaleString("en-US");

worker.onmessage = ({ data: m }) => {
  if (m.type === "ready") document.body.dataset.component = "ready";
  else if (m.type === "failed") {
    document.body.dataset.component = "failed";
    showHostError(m.message);
  } else if (m.type === "progress") {
    $("progress").max = Math.max(m.total, 1);
    $("progress").value = m.done;
    $("progress").dataset.done = m.done;
    $("progress-text").textContent = `${bytes(m.done)} of ${bytes(m.total)}`;
  } else if (m.type === "staged") {
    saved(m);
  } else if (m.type === "result") {
    busy = false;
    $("check").disabled = false;
    $("status").dataset.state = "done";
    const took = m.ms < 1000 ? `${Math.max(1, Math.round(m.ms))} ms` : `${(m.ms / 1000).toFixed(1)} s`;
    $("status-text").textContent = `Checked ${current.name} in ${took}`;
    if (m.host) showHostError(m.host);
    else show(m);
  }
};

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

function resetResult() {
  $("result").hidden = false;
  $("summary").replaceChildren();
  $("problems-block").hidden = true;
  $("problems").tBodies[0].replaceChildren();
}

function showHostError(message) {
  busy = false;
  $("check").disabled = false;
  resetResult();
  $("summary").dataset.valid = "false";
  $("summary").append(el("p", { class: "verdict bad" }, "Not checked"), el("p", {}, message));
  document.body.dataset.state = "done";
}

/** The staged file's format, as the report gives it: a JSON input is staged
 * as newline-delimited JSON. */
const stagedFormat = (format) => (format === "json" ? "JSON (newline-delimited)" : "CSV");

function show(m) {
  resetResult();
  const summary = $("summary");
  if (m.ok) {
    const r = m.ok;
    summary.dataset.valid = "true";
    summary.dataset.endpoints = r.endpointCount;
    const channels = el("ul", { class: "channels" });
    for (const c of r.channelCounts) {
      channels.append(el("li", { "data-channel": c.channel }, el("span", {}, c.channel), ` ${count(c.count)}`));
    }
    if (r.channelCounts.length === 0) channels.append(el("li", {}, "none (updates by Id only)"));
    summary.append(
      el("p", { class: "verdict good" }, "Valid: Pinpoint can import this file"),
      el(
        "dl",
        {},
        el("dt", {}, "Endpoints"),
        el("dd", { id: "endpoint-count" }, count(r.endpointCount)),
        el("dt", {}, "Per channel"),
        el("dd", {}, channels),
        el("dt", {}, "File Pinpoint would import"),
        el(
          "dd",
          { id: "bytes-to-stage" },
          r.bytesToStage < 1024
            ? `${count(r.bytesToStage)} bytes (limit ${bytes(r.maxImportBytes)})`
            : `${bytes(r.bytesToStage)}: ${count(r.bytesToStage)} bytes (limit ${bytes(r.maxImportBytes)})`,
        ),
        el("dt", {}, "Staged as"),
        el("dd", { id: "staged-format" }, stagedFormat(r.format)),
      ),
      el(
        "p",
        { class: "download" },
        el("button", { type: "button", id: "download" }, `Download ${stagedName()}`),
        " the file Pinpoint would import, built by the node on this computer.",
      ),
    );
    $("download").addEventListener("click", download);
  } else {
    const { tag, val } = m.err;
    summary.dataset.valid = "false";
    summary.dataset.error = tag;
    summary.dataset.totalProblems = val.totalProblems;
    const n = val.totalProblems;
    summary.append(
      el("p", { class: "verdict bad" }, n > 0 ? `Not valid: ${count(n)} problem${n === 1 ? "" : "s"}` : "Not valid"),
      el("p", { class: "error-type" }, el("code", {}, tag), " ", val.message),
    );
    if (val.limitBytes != null && val.actualBytes != null) {
      summary.append(el("p", {}, `Size ${bytes(val.actualBytes)}, limit ${bytes(val.limitBytes)}.`));
    }
    if (val.problems.length > 0) showProblems(val, m.lines);
  }
  document.body.dataset.state = "done";
}

/** The name of the staged file: the input's, as CSV or (JSON input)
 * newline-delimited JSON, which Pinpoint imports from a `.json` object. */
function stagedName() {
  const stem = current.message.file ? current.name.replace(/\.[^.]*$/, "") : "pasted-data";
  return `${stem}.pinpoint.${current.format === "json" ? "json" : "csv"}`;
}

function download() {
  if (busy) return;
  busy = true;
  $("download").disabled = true;
  $("download").dataset.state = "building";
  document.body.dataset.state = "staging";
  $("status").dataset.state = "running";
  $("status-text").textContent = `Building ${stagedName()}…`;
  $("progress").removeAttribute("value");
  $("progress-text").textContent = "";
  worker.postMessage({ ...current.message, action: "stage" });
}

function saved(m) {
  busy = false;
  const button = $("download");
  button.disabled = false;
  document.body.dataset.state = "done";
  if (m.error) {
    button.dataset.state = "failed";
    $("summary").append(el("p", { class: "verdict bad" }, `Could not build the file: ${m.error}`));
    return;
  }
  const type = m.format === "json" ? "application/x-ndjson" : "text/csv";
  const url = URL.createObjectURL(new Blob([m.buffer], { type }));
  const link = el("a", { href: url, download: stagedName(), hidden: "" });
  document.body.append(link);
  link.click();
  link.remove();
  button.dataset.state = "saved";
  $("status").dataset.state = "done";
  $("status-text").textContent = `Saved ${stagedName()} (${bytes(m.buffer.byteLength)})`;
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

function showProblems(val, lines) {
  $("problems-block").hidden = false;
  const shown = val.problems.length;
  $("problems-caption").textContent =
    val.totalProblems > shown
      ? `The first ${count(shown)} of ${count(val.totalProblems)} problems:`
      : `${count(shown)} problem${shown === 1 ? "" : "s"}:`;
  const body = $("problems").tBodies[0];
  for (const p of val.problems) {
    const row = el(
      "tr",
      { class: "problem" },
      el("td", { class: "record" }, p.recordNumber ?? "–"),
      el("td", { class: "line" }, p.line ?? "–"),
      el("td", { class: "column" }, p.column ?? "–"),
      el("td", { class: "field" }, p.field ? el("code", {}, p.field) : "–"),
      el("td", { class: "kind" }, p.kind),
      el("td", { class: "message" }, p.message),
    );
    body.append(row);
    const source = p.line != null ? lines[p.line] : null;
    if (source) {
      body.append(
        el("tr", { class: "source" }, el("td", { colspan: "6" }, sourceLine(p, source))),
      );
    }
  }
}

/** The problem's line, with the field at its column marked: for CSV the
 * column is the field's position in the row, for JSON the character. The
 * split below only finds where to draw the mark (quotes keep commas). */
function sourceLine(p, source) {
  const pre = el("pre", { class: "source-line" }, el("span", { class: "gutter" }, String(p.line)));
  const text = source.text;
  let from = -1;
  let to = -1;
  if (p.column != null) {
    if (current.format === "csv") [from, to] = csvCell(text, p.column);
    else [from, to] = jsonToken(text, p.column - 1);
  }
  const code = el("code", {});
  if (from < 0) {
    code.append(text);
    if (p.column != null && current.format === "csv") code.append(el("mark", { class: "missing" }, "⟵ missing"));
  } else {
    code.append(text.slice(0, from), el("mark", {}, text.slice(from, to) || " "), text.slice(to));
  }
  if (source.cut) code.append(el("span", { class: "cut" }, " …"));
  pre.append(code);
  return pre;
}

function csvCell(line, column) {
  let start = 0;
  let cell = 1;
  let quoted = false;
  for (let i = 0; i <= line.length; i++) {
    const c = line[i];
    if (c === '"') quoted = !quoted;
    else if ((c === "," && !quoted) || i === line.length) {
      if (cell === column) return [start, i];
      cell++;
      start = i + 1;
    }
  }
  return [-1, -1];
}

function jsonToken(line, at) {
  if (at < 0 || at >= line.length) return [-1, -1];
  let end = at + 1;
  if (line[at] === "{" || line[at] === "[") return [at, end];
  if (line[at] === '"') {
    while (end < line.length && line[end] !== '"') end += line[end] === "\\" ? 2 : 1;
    end = Math.min(end + 1, line.length);
  } else {
    while (end < line.length && !",}]".includes(line[end])) end++;
  }
  return [at, end];
}
