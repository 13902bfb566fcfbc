// The --html options as a user meets them: files written, bad input refused in one line, a bad
// relay file named and skipped while the page is still written.
import { test, describe, before } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { appendResults } from "../../src/results/index.js";
import { hostileRecords, hostileSession } from "./fixtures.js";
import { concord, ROOT } from "./genex.js";

describe("concord report --html", () => {
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "concord-html-cli-"));
    await appendResults(dir, hostileRecords(10));
  });

  test("writes one page, prints the usual report, and names the page on stderr", () => {
    const out = join(dir, "deep", "er", "page.html");
    const r = concord("report", dir, "--html", out);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Pairwise consistency/);
    assert.match(r.stderr, /wrote .*page\.html/);
    const html = readFileSync(out, "utf8");
    assert.match(html, /^<!doctype html>/);
    assert.equal((html.match(/<figure /g) ?? []).length >= 5, true);
  });

  test("the strict reading draws the strict numbers", () => {
    const out = join(dir, "strict.html");
    const r = concord("report", dir, "--html", out, "--reading", "strict");
    assert.equal(r.code, 0, r.stderr);
    assert.match(readFileSync(out, "utf8"), /consistency in the strict reading/);
  });

  test("a reading that does not exist is one line, and no page is written", () => {
    const out = join(dir, "bogus.html");
    const r = concord("report", dir, "--html", out, "--reading", "loose");
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, /--reading: expected paper or strict/);
    assert.equal(existsSync(out), false);
  });

  test("a page that cannot be written is one line naming it", () => {
    // A file where a folder should be: refused for every user, root included.
    writeFileSync(join(dir, "blocker"), "");
    const r = concord("report", dir, "--html", join(dir, "blocker", "page.html"));
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, /(page\.html|page folder).*(ENOTDIR|EEXIST)/);
  });

  test("relay files in the folder are drawn; a broken one is named and skipped", () => {
    copyFileSync(join(ROOT, "test/fixtures/html/relay-stories260K-demo-2.json"), join(dir, "relay-good.json"));
    writeFileSync(join(dir, "relay-broken.json"), '{"problemId": 3');
    writeFileSync(join(dir, "relay-other.json"), '{"problemId": "x"}');
    const out = join(dir, "relay.html");
    const r = concord("report", dir, "--html", out);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /relay-broken\.json: not valid JSON, skipped/);
    assert.match(r.stderr, /relay-other\.json: not a relay result \(field initiator: /);
    const html = readFileSync(out, "utf8");
    assert.match(html, /id="fig-relay-0"/);
    assert.doesNotMatch(html, /id="fig-relay-1"/);
  });

  test("traces that are not there are one line", () => {
    const r = concord("report", dir, "--html", join(dir, "t.html"), "--traces", join(dir, "nope"));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /nope: no such file or folder/);
  });
});

describe("concord export --html", () => {
  test("writes the session page and prints nothing else", () => {
    const dir = mkdtempSync(join(tmpdir(), "concord-html-export-"));
    const file = join(dir, "s.json");
    writeFileSync(file, JSON.stringify(hostileSession()));
    const r = concord("export", file, "--html", join(dir, "s.html"));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "");
    const html = readFileSync(join(dir, "s.html"), "utf8");
    assert.match(html, /<h1>Session hostile<\/h1>/);
    assert.equal((html.match(/<details class="race"/g) ?? []).length, 4);
  });

  test("a damaged session is one line and writes no page", () => {
    const dir = mkdtempSync(join(tmpdir(), "concord-html-export-"));
    const file = join(dir, "s.json");
    writeFileSync(file, JSON.stringify(hostileSession()).slice(0, 500));
    const r = concord("export", file, "--html", join(dir, "s.html"));
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split("\n").length, 1);
    assert.match(r.stderr, /file ends early/);
    assert.equal(existsSync(join(dir, "s.html")), false);
  });
});
