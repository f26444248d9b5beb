// Drives the page in headless Chromium (Debian's /usr/bin/chromium, through
// playwright-core pinned in .ci/tools) for `host-test/tests/web.rs`.
//
// usage: node browser.mjs TOOLS_DIR CASES_JSON OUT_JSON SCREENSHOT_DIR
//
// CASES_JSON: { url, chromium, cases: [{ name, file, slow?, saveTo? }] }. For each case
// the script chooses the file, waits for the result and reports what the page
// shows: the summary's verdict and counts, every problem row and the marked
// source line under it, the progress values seen while it ran, and (slow
// cases) how the page answered while the worker validated. It also records
// every request the page makes, and saves a screenshot of each state. With
// `saveTo`, it then clicks the page's download button and saves the file
// the page gives there (the Rust test compares it with the CLI's).
// The Rust test compares the page's verdicts and problems with
// `pinpoint-import validate`'s; this script asserts only what is the
// browser's: responsiveness, progress, requests.

import { createRequire } from "node:module";
import { readFileSync, writeFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [tools, casesFile, outFile, shots] = process.argv.slice(2);
const { chromium } = createRequire(join(tools, "package.json"))("playwright-core");
const { url, executable, cases } = JSON.parse(readFileSync(casesFile, "utf8"));
mkdirSync(shots, { recursive: true });

const fail = (message) => {
  throw new Error(message);
};

const profile = mkdtempSync(join(tmpdir(), "pinpoint-web-chromium-"));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: executable,
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
  viewport: { width: 1100, height: 800 },
  acceptDownloads: true,
});
const origin = new URL(url).origin;
const requests = [];
const consoleErrors = [];
browser.on("request", (r) => requests.push(r.url()));
const page = browser.pages()[0] ?? (await browser.newPage());
page.on("console", (m) => {
  if (m.type() === "error") consoleErrors.push(m.text());
});
page.on("pageerror", (e) => consoleErrors.push(String(e)));

const results = [];
try {
  await page.goto(url);
  await page.waitForFunction(() => document.body.dataset.component === "ready", null, { timeout: 60000 });
  await page.screenshot({ path: join(shots, "0-ready.png"), fullPage: true });

  let n = 1;
  for (const c of cases) {
    // Progress values the page shows, sampled by the page itself.
    await page.evaluate(() => {
      window.__progress = [];
      const bar = document.getElementById("progress");
      window.__observer?.disconnect();
      window.__observer = new MutationObserver(() => {
        if (bar.dataset.done !== undefined) window.__progress.push([Number(bar.value), Number(bar.max)]);
      });
      window.__observer.observe(bar, { attributes: true });
      delete bar.dataset.done;
    });
    const started = Date.now();
    await page.setInputFiles("#file", c.file);
    const responsive = { probes: 0, slowestMs: 0, typed: false, midProgress: false };
    if (c.slow) {
      // While the worker validates: the page answers, takes typing, and its
      // bar moves (a screenshot of the bar part-way).
      await page.waitForFunction(() => document.body.dataset.state === "checking");
      let shot = false;
      while ((await page.evaluate(() => document.body.dataset.state)) === "checking") {
        const t = Date.now();
        await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r())));
        responsive.slowestMs = Math.max(responsive.slowestMs, Date.now() - t);
        responsive.probes++;
        if (!responsive.typed) {
          await page.fill("#paste", "");
          await page.type("#paste", "typed while validating");
          responsive.typed = (await page.inputValue("#paste")) === "typed while validating";
        }
        const [value, max] = await page.evaluate(() => {
          const bar = document.getElementById("progress");
          return [bar.value, bar.max];
        });
        if (value > 0 && value < max) {
          responsive.midProgress = true;
          if (!shot) {
            await page.screenshot({ path: join(shots, `${n}-${c.name}-progress.png`), fullPage: true });
            shot = true;
          }
        }
        await page.waitForTimeout(50);
      }
      await page.fill("#paste", "");
    }
    await page.waitForFunction(() => document.body.dataset.state === "done", null, { timeout: 600000 });
    const elapsedMs = Date.now() - started;
    await page.screenshot({ path: join(shots, `${n}-${c.name}.png`), fullPage: true });
    n++;
    const shown = await page.evaluate(() => {
      const summary = document.getElementById("summary");
      const rows = [...document.querySelectorAll("#problems tbody tr")];
      const problems = [];
      for (const row of rows) {
        if (row.classList.contains("problem")) {
          const cell = (k) => {
            const t = row.querySelector(`td.${k}`).textContent;
            return t === "–" ? null : t;
          };
          const num = (k) => (cell(k) === null ? null : Number(cell(k)));
          problems.push({
            record: num("record"),
            line: num("line"),
            column: num("column"),
            field: cell("field"),
            kind: cell("kind"),
            message: cell("message"),
            source: null,
            marked: null,
          });
        } else if (row.classList.contains("source")) {
          const p = problems[problems.length - 1];
          p.source = row.querySelector("code").textContent;
          p.marked = row.querySelector("mark")?.textContent ?? null;
        }
      }
      const channels = {};
      for (const li of summary.querySelectorAll("[data-channel]")) {
        channels[li.dataset.channel] = Number(li.textContent.replace(li.dataset.channel, "").replace(/,/g, ""));
      }
      return {
        valid: summary.dataset.valid === "true",
        endpoints: summary.dataset.endpoints === undefined ? null : Number(summary.dataset.endpoints),
        channels,
        error: summary.dataset.error ?? null,
        totalProblems: summary.dataset.totalProblems === undefined ? null : Number(summary.dataset.totalProblems),
        caption: document.getElementById("problems-caption").textContent,
        summaryText: summary.innerText,
        problems,
      };
    });
    const progress = await page.evaluate(() => window.__progress);
    if (c.saveTo) {
      const [download] = await Promise.all([page.waitForEvent("download", { timeout: 120000 }), page.click("#download")]);
      await download.saveAs(c.saveTo);
      await page.waitForFunction(() => document.body.dataset.state === "done");
      shown.downloadName = download.suggestedFilename();
      await page.waitForTimeout(300); // the bar's 0.2 s transition, for the screenshot
      await page.screenshot({ path: join(shots, `${n - 1}-${c.name}-downloaded.png`), fullPage: true });
    }
    if (c.slow) {
      if (!responsive.typed) fail(`${c.name}: the page took no typing while it validated`);
      if (!responsive.midProgress) fail(`${c.name}: the progress bar never stood between empty and full: ${JSON.stringify(progress)}`);
      if (responsive.slowestMs > 1000) fail(`${c.name}: the page did not answer for ${responsive.slowestMs} ms`);
      const last = progress[progress.length - 1];
      if (!last || last[0] !== last[1]) fail(`${c.name}: the bar did not end full: ${JSON.stringify(progress)}`);
    }
    results.push({ name: c.name, elapsedMs, progress, responsive, ...shown });
  }
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}

// A download's `blob:` URL names an object in this page's memory, never the network.
const local = (r) => r.startsWith(origin + "/") || r.startsWith(`blob:${origin}/`) || r.startsWith("data:");
const foreign = requests.filter((r) => !local(r));
if (foreign.length > 0) fail(`requests left the page's origin: ${foreign.join(", ")}`);
if (consoleErrors.length > 0) fail(`the page logged errors: ${consoleErrors.join(" | ")}`);
writeFileSync(outFile, JSON.stringify({ requests, results }, null, 2));
