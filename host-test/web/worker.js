// The node's portable component, run in a Web Worker so that a large file
// never freezes the page. Every verdict, problem and count is the
// component's `validate` export's, and the file to download its `stage`
// export's; this file only feeds it the data and passes on what it reports
// (its progress lines on stderr and its result).
//
// The component gets no network: `wasi:http/outgoing-handler` refuses every
// request, and the page's Content-Security-Policy (`connect-src 'none'`)
// would stop one anyway.

import { instantiate } from "./generated/node_component.js";
import { createCli } from "./generated/shim/cli.js";
import * as clocks from "./generated/shim/clocks.js";
import * as http from "./generated/shim/http.js";
import * as io from "./generated/shim/io.js";
import * as random from "./generated/shim/random.js";

// `validate` checks the data, not where it would go: any well-formed
// project id and segment name will do (the CLI comparison uses these too).
const APPLICATION_ID = "preflight-check";
const SEGMENT_NAME = "preflight-check";

// The component writes one stderr line per progress step of a stage:
// `pinpoint-segment-import: progress: validating DONE/TOTAL`.
const PROGRESS = /^pinpoint-segment-import: progress: validating (\d+)\/(\d+)$/;

function stderrLines(onLine) {
  const decoder = new TextDecoder();
  let pending = "";
  return {
    write(bytes) {
      pending += decoder.decode(bytes, { stream: true });
      const lines = pending.split("\n");
      pending = lines.pop();
      lines.forEach(onLine);
    },
    blockingFlush() {},
  };
}

function onStderr(line) {
  const m = PROGRESS.exec(line);
  if (m) postMessage({ type: "progress", done: Number(m[1]), total: Number(m[2]) });
}

/** The core module `name` (served as a JS module holding it in base64). */
async function coreModule(name) {
  const { default: base64 } = await import(`./core/${name}.js`);
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return WebAssembly.compile(bytes);
}

function imports() {
  const cli = createCli({ environment: {} });
  // A new stream for each `get-stderr`: the component drops the one it
  // wrote to, and the shim closes a dropped stream (so its one shared
  // stream would take only the first line).
  const lines = stderrLines(onStderr);
  const stderr = { getStderr: () => io.outputStreamCreate(lines) };
  const denied = {
    handle() {
      throw { tag: "HTTP-request-denied" };
    },
  };
  return {
    "wasi:cli/environment": cli.environment,
    "wasi:cli/exit": cli.exit,
    "wasi:cli/stderr": stderr,
    "wasi:cli/stdin": cli.stdin,
    "wasi:cli/stdout": cli.stdout,
    "wasi:cli/terminal-input": cli.terminalInput,
    "wasi:cli/terminal-output": cli.terminalOutput,
    "wasi:cli/terminal-stderr": cli.terminalStderr,
    "wasi:cli/terminal-stdin": cli.terminalStdin,
    "wasi:cli/terminal-stdout": cli.terminalStdout,
    "wasi:clocks/monotonic-clock": clocks.monotonicClock,
    "wasi:clocks/wall-clock": clocks.wallClock,
    "wasi:http/outgoing-handler": denied,
    "wasi:http/types": http.types,
    "wasi:io/error": io.error,
    "wasi:io/poll": io.poll,
    "wasi:io/streams": io.streams,
    "wasi:random/insecure-seed": random.insecureSeed,
    "wasi:random/random": random.random,
  };
}

// The core modules are compiled once; each check gets a fresh instance, so
// the memory a large file took is given back when its check ends.
const modules = new Map();
const compiled = (name) => {
  if (!modules.has(name)) modules.set(name, coreModule(name));
  return modules.get(name);
};
instantiate(compiled, imports()).then(
  () => postMessage({ type: "ready" }),
  (e) => postMessage({ type: "failed", message: `the component did not load: ${e}` }),
);

/** BigInts (the component's u64) as numbers: every count here fits. */
const plain = (value) =>
  JSON.parse(JSON.stringify(value, (_, x) => (typeof x === "bigint" ? Number(x) : x)));

async function text(message) {
  if (message.text !== undefined) return message.text;
  const bytes = await message.file.arrayBuffer();
  // As `pinpoint-import`: the data must be UTF-8 (the component takes a
  // string); a byte order mark stays for the component to handle.
  return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
}

self.onmessage = async ({ data: message }) => {
  let data;
  try {
    data = await text(message);
  } catch {
    postMessage({
      type: "result",
      host: "The file is not UTF-8: Pinpoint imports UTF-8 files only.",
    });
    return;
  }
  const { node } = await instantiate(compiled, imports());
  const input = {
    applicationId: APPLICATION_ID,
    segmentName: SEGMENT_NAME,
    format: message.format,
    data,
  };
  if (message.action === "stage") {
    stage(node, input);
    return;
  }
  const started = performance.now();
  let outcome;
  try {
    outcome = { ok: plain(node.validate(input)) };
  } catch (e) {
    if (e && e.payload) outcome = { err: plain(e.payload) };
    else outcome = { host: `the component failed: ${e}` };
  }
  const lines = sourceLines(data, outcome.err?.val?.problems ?? []);
  postMessage({ type: "result", ms: performance.now() - started, lines, ...outcome });
};

/** The file a run would stage, as the component's `stage` builds it
 * (a JSON array becomes newline-delimited JSON), handed to the page. */
function stage(node, input) {
  let staged;
  try {
    staged = node.stage(input);
  } catch (e) {
    const message = e && e.payload ? e.payload.val.message : `the component failed: ${e}`;
    postMessage({ type: "staged", error: message });
    return;
  }
  const data = staged.data;
  const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
  const buffer = whole ? data.buffer : data.slice().buffer;
  postMessage({ type: "staged", format: staged.report.format, buffer }, [buffer]);
}

/** At most this many characters of a line are shown around its column. */
const SHOWN_CHARS = 400;

/** The text of each line the problems name (line numbers from 1, lines
 * ending at `\n`), cut to SHOWN_CHARS around the problem's column. */
function sourceLines(data, problems) {
  const wanted = new Set(problems.map((p) => p.line).filter((l) => l != null));
  const lines = {};
  if (wanted.size === 0) return lines;
  const last = Math.max(...wanted);
  let start = 0;
  for (let line = 1; line <= last && start <= data.length; line++) {
    let end = data.indexOf("\n", start);
    if (end < 0) end = data.length;
    if (wanted.has(line)) {
      let text = data.slice(start, end);
      if (text.endsWith("\r")) text = text.slice(0, -1);
      const cut = text.length > SHOWN_CHARS * 4;
      lines[line] = { text: cut ? text.slice(0, SHOWN_CHARS * 4) : text, cut };
    }
    start = end + 1;
  }
  return lines;
}
