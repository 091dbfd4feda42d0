// serve_page.mjs — drives the page of `proact serve` in a real browser (Debian's chromium, headless,
// through npm puppeteer-core, which downloads no browser), for tests/jobs/test_serve_web.sh and
// scripts/screenshot.sh:
//   node serve_page.mjs URL --text TEXT --head SPEC [--head SPEC2] [--ms MS] [--screenshot PNG]
//                       [--width PX] [--height PX] [--bad]
// Loads URL (the page: the browser asks for text/html), types TEXT into the source box, the heads
// into Head A (and B), the speed, and presses Play with the keyboard (Tab to the button, Enter).
// When every head's panel says it is done, prints JSON:
//   {"lanes": [{"head", "translation", "marks": [each timeline mark: "READ"/"WRITE"],
//               "marks_per_column": [marks under each source column], "stats": {dt: dd},
//               "points": number of points in the cue plot, "threshold_line": 0/1}],
//    "message": the page's message ("" if none)}
// With --bad, then plays the bad inputs (an empty text, 10,000 words, an invalid head spec) and adds
//   "bad": {"empty": message, "long": message, "head": message, "panels_after_bad": n}
// and, to show that the server still serves, plays TEXT again: "after_bad": {lane as above}.
// The screenshot (of the first play) goes to PNG. CHROMIUM names the browser (default
// /usr/bin/chromium); puppeteer-core is looked up in PROACT_NODE_DIR (default <repo>/.deps/node).
import {existsSync} from "node:fs";
import {createRequire} from "node:module";
import path from "node:path";
import {fileURLToPath, pathToFileURL} from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const nodeDir = process.env.PROACT_NODE_DIR ?? path.join(here, "..", "..", ".deps", "node");
if (!existsSync(path.join(nodeDir, "node_modules", "puppeteer-core"))) {
  console.error(`serve_page.mjs: puppeteer-core not found in ${nodeDir}; run scripts/install-deps.sh`);
  process.exit(1);
}
const entry = createRequire(path.join(nodeDir, "package.json")).resolve("puppeteer-core");
const puppeteer = (await import(pathToFileURL(entry).href)).default;

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
};
const all = (name) => args.flatMap((a, i) => (a === name ? [args[i + 1]] : []));
const url = args[0];
const text = opt("--text");
const heads = all("--head");
if (!url || text === undefined || heads.length < 1 || heads.length > 2) {
  console.error("usage: node serve_page.mjs URL --text TEXT --head SPEC [--head SPEC2] [--ms MS] [--screenshot PNG] [--bad]");
  process.exit(2);
}
const ms = opt("--ms") ?? "0";
const browserPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const timeout = 45000;

const browser = await puppeteer.launch({
  executablePath: browserPath,
  headless: true,
  // CI runs as root (no sandbox there); no GPU on a server
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
let status = 0;
try {
  const page = await browser.newPage();
  await page.setViewport({width: Number(opt("--width") ?? 1280), height: Number(opt("--height") ?? 900)});
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  await page.goto(url, {waitUntil: "networkidle0", timeout});
  // the model's description arrived: Head A holds the default head
  await page.waitForFunction(() => document.getElementById("head-a").value !== "", {timeout});

  // Fills the form and presses Play with the keyboard only; waits for every panel (or a message).
  const play = async (source, headA, headB) => {
    const fill = async (id, value) => {
      await page.focus(id);
      await page.$eval(id, (el) => { el.value = ""; });
      // typing 10,000 words key by key would take minutes: paste long text as one input event
      if (value.length > 2000) await page.$eval(id, (el, v) => { el.value = v; }, value);
      else await page.keyboard.type(value);
    };
    await fill("#source", source);
    await fill("#speed", ms);
    await fill("#head-a", headA);
    await fill("#head-b", headB ?? "");
    await page.focus("#head-b");
    await page.keyboard.press("Tab"); // past the help text to the button
    const focused = await page.evaluate(() => document.activeElement.id);
    if (focused !== "play") throw new Error(`Tab from Head B reached "${focused}", not the Play button`);
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => document.body.dataset.state === "done", {timeout});
  };
  const read = () => page.evaluate(() => ({
    lanes: [...document.querySelectorAll(".lane")].map((l) => ({
      head: l.querySelector(".lane-head").textContent,
      done: l.dataset.done === "1",
      translation: l.querySelector(".translation").textContent,
      marks: [...l.querySelectorAll(".timeline .mark")].map((m) => m.dataset.decision),
      marks_per_column: [...l.querySelectorAll(".timeline .column")].map((c) => c.querySelectorAll(".mark").length),
      stats: Object.fromEntries([...l.querySelectorAll(".stats dt")].map((dt) => [dt.textContent,
        dt.nextElementSibling.textContent])),
      points: l.querySelectorAll(".cue-plot circle").length,
      threshold_line: l.querySelectorAll(".cue-plot line.threshold").length,
    })),
    message: document.getElementById("message").hidden ? "" : document.getElementById("message").textContent,
  }));

  await play(text, heads[0], heads[1]);
  const result = await read();
  const shot = opt("--screenshot");
  if (shot) await page.screenshot({path: shot, fullPage: true});

  if (args.includes("--bad")) {
    const bad = {};
    await play("", heads[0]);
    bad.empty = (await read()).message;
    await play(Array.from({length: 10000}, (_, i) => `w${i}`).join(" "), heads[0]);
    bad.long = (await read()).message;
    await play(text, "waitk:x");
    const r = await read();
    bad.head = r.message;
    bad.panels_after_bad = r.lanes.length;
    result.bad = bad;
    await play(text, heads[0]);
    result.after_bad = (await read()).lanes[0] ?? null;
  }
  result.page_errors = pageErrors;
  console.log(JSON.stringify(result));
} catch (e) {
  console.error(`serve_page.mjs: ${e.message}`);
  status = 1;
} finally {
  await browser.close();
}
process.exit(status);
